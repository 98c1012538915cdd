//! Tests of the `--charts` and `--update-doc` checks and of the document update.

use super::*;

const SCENARIO: &str = "name = \"t\"\nduration_s = 600\n[ambient]\npoints = [[0.0, 22.0]]\n\
                        [load]\nkind = \"constant\"\nlevel = 1.0\n";

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("thermal-sim-outputs-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn error_text(result: Result<()>) -> String {
    format!("{:#}", result.unwrap_err())
}

#[test]
fn a_doc_without_both_markers_in_order_is_refused_naming_it() {
    let dir = scratch("markers");
    let doc = dir.join("doc.md");
    let cases = [
        (
            "no markers\n".to_string(),
            format!("has no {DOC_BEGIN} marker"),
        ),
        (format!("{DOC_BEGIN}\n"), format!("has no {DOC_END} marker")),
        (
            format!("{DOC_END}\n{DOC_BEGIN}\n"),
            format!("{DOC_END} comes before {DOC_BEGIN}"),
        ),
    ];
    for (text, expected) in cases {
        fs::write(&doc, &text).unwrap();
        let error = error_text(check_doc(&doc));
        assert!(
            error.contains(&expected) && error.contains(&doc.display().to_string()),
            "{text:?}: {error}"
        );
        let error = error_text(update_doc(&doc, "table\n"));
        assert!(error.contains(&expected), "{text:?}: {error}");
        assert_eq!(fs::read_to_string(&doc).unwrap(), text, "left as it was");
    }
    let error = error_text(check_doc(&dir.join("missing.md")));
    assert!(error.contains("unreadable --update-doc file"), "{error}");
    fs::write(&doc, vec![b'x'; MAX_DOC_BYTES as usize + 1]).unwrap();
    let error = error_text(check_doc(&doc));
    assert!(error.contains("more than 1 MiB"), "{error}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_update_replaces_only_the_marked_region() {
    let dir = scratch("update");
    let doc = dir.join("doc.md");
    fs::write(
        &doc,
        format!("before {DOC_END}\n{DOC_BEGIN}\nold table\n{DOC_END}\nafter\n"),
    )
    .unwrap();
    check_doc(&doc).unwrap();
    update_doc(&doc, "new table\n").unwrap();
    assert_eq!(
        fs::read_to_string(&doc).unwrap(),
        format!("before {DOC_END}\n{DOC_BEGIN}\nnew table\n{DOC_END}\nafter\n")
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_charts_path_must_be_a_directory_files_can_be_made_in() {
    let dir = scratch("charts");
    let scenarios = [Scenario::from_toml(SCENARIO).unwrap()];
    let file = dir.join("a-file");
    fs::write(&file, "x").unwrap();
    let error = error_text(check_charts_dir(&file, &scenarios));
    assert!(
        error.contains(&format!(
            "--charts {} is a regular file, not a directory",
            file.display()
        )),
        "{error}"
    );

    let missing = dir.join("new").join("charts");
    check_charts_dir(&missing, &scenarios).unwrap();
    assert!(missing.is_dir(), "a missing directory is created");
    assert_eq!(
        fs::read_dir(&missing).unwrap().count(),
        0,
        "the probe is removed"
    );

    // Nobody, root included, can create a file in /proc.
    let error = error_text(check_charts_dir(Path::new("/proc"), &scenarios));
    assert!(
        error.contains("--charts /proc: cannot create files in it"),
        "{error}"
    );

    fs::create_dir(chart_path(&missing, &scenarios[0])).unwrap();
    let error = error_text(check_charts_dir(&missing, &scenarios));
    assert!(
        error.contains("thermal-t.svg is a directory, not a regular file"),
        "{error}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_output_in_the_way_is_refused_naming_its_path_and_kind() {
    let dir = scratch("write");
    let chart = dir.join("thermal-t.svg");
    fs::create_dir(&chart).unwrap();
    let error = error_text(write_output(&chart, b"<svg/>"));
    assert_eq!(
        error,
        format!(
            "cannot write {}: it is a directory, not a regular file",
            chart.display()
        )
    );
    let doc = dir.join("doc.md");
    write_output(&doc, b"a long first text").unwrap();
    write_output(&doc, b"short").unwrap();
    assert_eq!(fs::read_to_string(&doc).unwrap(), "short");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unwritable_doc_or_existing_chart_is_refused_before_anything_runs() {
    let dir = scratch("unwritable");
    let scenarios = [Scenario::from_toml(SCENARIO).unwrap()];
    let doc = dir.join("doc.md");
    let text = format!("{DOC_BEGIN}\nold\n{DOC_END}\n");
    fs::write(&doc, &text).unwrap();
    let charts = dir.join("charts");
    fs::create_dir(&charts).unwrap();
    let chart = chart_path(&charts, &scenarios[0]);
    fs::write(&chart, "<svg/>").unwrap();
    check_doc(&doc).unwrap();
    check_charts_dir(&charts, &scenarios).unwrap();

    // Immutable as root (who ignores mode bits), mode 0444 otherwise.
    let helper = warden_hw::fake_sysfs::FakeSysfsTree::create(&dir.join("helper")).unwrap();
    helper.make_unwritable(&doc);
    helper.make_unwritable(&chart);
    let doc_error = error_text(check_doc(&doc));
    let chart_error = error_text(check_charts_dir(&charts, &scenarios));
    helper.make_writable(&doc).unwrap();
    helper.make_writable(&chart).unwrap();
    drop(helper);
    assert!(
        doc_error.contains(&format!("{DOC} {}: cannot write it", doc.display())),
        "{doc_error}"
    );
    assert!(
        chart_error.contains(&format!("--charts: cannot write {}", chart.display())),
        "{chart_error}"
    );
    assert_eq!(fs::read_to_string(&doc).unwrap(), text, "left as it was");
    fs::remove_dir_all(&dir).unwrap();
}
