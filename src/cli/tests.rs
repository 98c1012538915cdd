//! Tests of the command-line parser and its help texts.

use super::*;

fn p(args: &[&str]) -> Result<Command, UsageError> {
    parse(args.iter().map(|s| s.to_string()))
}

/// The error text for `args`, which must be rejected.
fn rejected(args: &[&str]) -> String {
    match p(args) {
        Ok(command) => panic!("{args:?} was accepted as {command:?}"),
        Err(e) => e.to_string(),
    }
}

/// Arguments that give `opt` once, with a value when it takes one.
fn once(opt: CliOption) -> Vec<&'static str> {
    if opt.takes_value() {
        vec![opt.long(), "v"]
    } else {
        vec![opt.long()]
    }
}

#[test]
fn parses_every_form() {
    assert_eq!(
        p(&[]).unwrap(),
        Command::Run {
            config: None,
            simulate: false
        }
    );
    assert_eq!(
        p(&["run", "--config", "a.toml", "--simulate"]).unwrap(),
        Command::Run {
            config: Some("a.toml".into()),
            simulate: true
        }
    );
    assert_eq!(
        p(&["-c", "b.toml"]).unwrap(),
        Command::Run {
            config: Some("b.toml".into()),
            simulate: false
        }
    );
    assert_eq!(
        p(&["check-config", "x.toml"]).unwrap(),
        Command::CheckConfig {
            path: "x.toml".into()
        }
    );
    assert_eq!(
        p(&["check-config", "--config", "y.toml"]).unwrap(),
        Command::CheckConfig {
            path: "y.toml".into()
        }
    );
    assert_eq!(
        p(&["status", "--addr", "127.0.0.1:1", "--json"]).unwrap(),
        Command::Status {
            addr: Some("127.0.0.1:1".into()),
            json: true
        }
    );
    assert_eq!(p(&["restore"]).unwrap(), Command::Restore { config: None });
    assert_eq!(
        p(&["restore", "--config", "r.toml"]).unwrap(),
        Command::Restore {
            config: Some("r.toml".into())
        }
    );
    assert_eq!(p(&["--version"]).unwrap(), Command::Version);
    assert_eq!(
        p(&["run", "--help"]).unwrap(),
        Command::Help(Some(Subcommand::Run))
    );
    assert_eq!(
        p(&["status", "-h"]).unwrap(),
        Command::Help(Some(Subcommand::Status))
    );
    assert_eq!(p(&["--help"]).unwrap(), Command::Help(None));
    // Without a named subcommand the help is the full one.
    assert_eq!(p(&["-c", "a.toml", "-h"]).unwrap(), Command::Help(None));
}

#[test]
fn rejects_what_it_does_not_know() {
    let err = rejected(&["--frob"]);
    assert!(
        err.contains("unknown option '--frob'") && err.ends_with("Run 'warden --help' for usage."),
        "{err}"
    );
    let err = rejected(&["status", "--frob"]);
    assert!(
        err.ends_with("Run 'warden status --help' for usage."),
        "{err}"
    );
    assert!(rejected(&["check-config"]).contains("FILE"));
    assert!(rejected(&["run", "--config"])
        .starts_with("option '--config' needs a value, but none followed: write '--config FILE'"));
    assert!(rejected(&["run", "extra"]).contains("unexpected argument 'extra'"));
    assert!(rejected(&["check-config", "a.toml", "b.toml"]).contains("'b.toml'"));
    assert!(rejected(&["status", "extra"]).contains("'extra'"));
}

#[test]
fn every_subcommand_rejects_the_options_of_the_others() {
    for sub in Subcommand::ALL {
        for opt in CliOption::ALL {
            if sub.options().contains(&opt) {
                continue;
            }
            let mut args = vec![sub.word()];
            if sub == Subcommand::CheckConfig {
                args.push("x.toml");
            }
            args.extend(once(opt));
            let err = rejected(&args);
            let expected = format!(
                "option '{}' does not apply to 'warden {}' (it is for ",
                opt.long(),
                sub.word()
            );
            assert!(err.starts_with(&expected), "{args:?}: {err}");
            let hint = format!("Run 'warden {} --help' for usage.", sub.word());
            assert!(err.ends_with(&hint), "{args:?}: {err}");
        }
    }
}

#[test]
fn misplaced_options_name_where_they_belong() {
    assert_eq!(
        rejected(&["status", "--config", "a.toml"]),
        "option '--config' does not apply to 'warden status' (it is for 'warden run', \
         'warden check-config', 'warden restore')\nRun 'warden status --help' for usage."
    );
    assert_eq!(
        rejected(&["restore", "--simulate"]),
        "option '--simulate' does not apply to 'warden restore' (it is for 'warden run')\n\
         Run 'warden restore --help' for usage."
    );
    // Without a subcommand it is `run`, and the hint is the general help.
    assert_eq!(
        rejected(&["--json"]),
        "option '--json' does not apply to 'warden run' (it is for 'warden status')\n\
         Run 'warden --help' for usage."
    );
    // A value-taking option is rejected before it swallows the next word.
    assert!(rejected(&["check-config", "--addr"]).contains("'--addr' does not apply"));
}

#[test]
fn every_option_given_twice_is_rejected() {
    for sub in Subcommand::ALL {
        for &opt in sub.options() {
            let mut args = vec![sub.word()];
            args.extend(once(opt));
            args.extend(once(opt));
            let err = rejected(&args);
            let expected = format!("option '{}' given twice", opt.long());
            assert!(err.starts_with(&expected), "{args:?}: {err}");
            assert!(err.contains("give it once"), "{args:?}: {err}");
        }
    }
}

#[test]
fn a_second_config_names_both_files() {
    let expected = "option '--config' given twice ('a.toml', then 'b.toml'); give it once\n\
                    Run 'warden run --help' for usage.";
    assert_eq!(
        rejected(&["run", "--config", "a.toml", "--config", "b.toml"]),
        expected
    );
    assert_eq!(
        rejected(&["run", "-c", "a.toml", "--config", "b.toml"]),
        expected
    );
    assert_eq!(
        rejected(&["status", "--json", "--json"]),
        "option '--json' given twice; give it once\nRun 'warden status --help' for usage."
    );
    assert_eq!(
        rejected(&["check-config", "a.toml", "--config", "b.toml"]),
        "check-config takes one FILE, given both 'a.toml' and --config 'b.toml'; give it once\n\
         Run 'warden check-config --help' for usage."
    );
}

#[test]
fn a_value_may_follow_an_equals_sign() {
    for (equals, spaced) in [
        (vec!["--config=a.toml"], vec!["--config", "a.toml"]),
        (
            vec!["run", "--config=a.toml", "--simulate"],
            vec!["run", "-c", "a.toml", "--simulate"],
        ),
        (
            vec!["check-config", "--config=a.toml"],
            vec!["check-config", "a.toml"],
        ),
        (
            vec!["restore", "--config=a.toml"],
            vec!["restore", "--config", "a.toml"],
        ),
        (
            vec!["status", "--addr=127.0.0.1:1", "--json"],
            vec!["status", "--json", "--addr", "127.0.0.1:1"],
        ),
    ] {
        assert_eq!(p(&equals).unwrap(), p(&spaced).unwrap(), "{equals:?}");
    }
    // Only the first '=' splits; the rest, a leading '-' included, is the value.
    assert_eq!(
        p(&["--config=-odd=name.toml"]).unwrap(),
        Command::Run {
            config: Some("-odd=name.toml".into()),
            simulate: false
        }
    );
    assert_eq!(
        rejected(&["--config=a.toml", "-c", "b.toml"]),
        "option '--config' given twice ('a.toml', then 'b.toml'); give it once\n\
         Run 'warden --help' for usage."
    );
}

#[test]
fn an_equals_sign_on_a_flag_or_with_nothing_after_it_is_named() {
    assert_eq!(
        rejected(&["run", "--simulate=x"]),
        "option '--simulate' takes no value, but was given one in '--simulate=x'; write just \
         '--simulate'\nRun 'warden run --help' for usage."
    );
    assert!(rejected(&["status", "--json="]).starts_with("option '--json' takes no value"));
    assert!(rejected(&["status", "--help=x"]).starts_with("option '--help' takes no value"));
    assert!(rejected(&["--version=1"]).starts_with("option '--version' takes no value"));
    assert_eq!(
        rejected(&["run", "--config="]),
        "option '--config' needs a value, but it is empty: write '--config FILE', or \
         '--config=FILE' for a FILE that starts with '-'\nRun 'warden run --help' for usage."
    );
    assert!(rejected(&["status", "--addr="])
        .starts_with("option '--addr' needs a value, but it is empty"));
    assert!(rejected(&["run", "--config", ""]).contains("needs a value, but it is empty"));
    assert!(rejected(&["--frob=1"]).starts_with("unknown option '--frob' (in '--frob=1')"));
    // Applicability is checked first: --json=x on run is out of place, not malformed.
    assert!(rejected(&["--json=x"]).starts_with("option '--json' does not apply to 'warden run'"));
    assert!(rejected(&["status", "--config=a"]).starts_with("option '--config' does not apply"));
}

#[test]
fn a_value_option_followed_by_an_option_is_refused() {
    assert_eq!(
        rejected(&["run", "-c", "--simulate"]),
        "option '--config' needs a value, but got the option '--simulate': write '--config FILE', \
         or '--config=FILE' for a FILE that starts with '-'\nRun 'warden run --help' for usage."
    );
    assert!(rejected(&["status", "--addr", "--json"])
        .starts_with("option '--addr' needs a value, but got the option '--json': write '--addr HOST:PORT', or '--addr=HOST:PORT'"));
    assert!(rejected(&["restore", "--config", "-x.toml"]).contains("got the option '-x.toml'"));
    assert!(rejected(&["check-config", "--config", "--help"]).contains("got the option '--help'"));
    // A lone '-' is a value, not an option.
    assert_eq!(
        p(&["restore", "--config", "-"]).unwrap(),
        Command::Restore {
            config: Some("-".into())
        }
    );
}

#[test]
fn an_unknown_subcommand_lists_the_real_ones() {
    assert_eq!(
        rejected(&["frob"]),
        "unknown subcommand 'frob'; the subcommands are run, check-config, status, restore\n\
         Run 'warden --help' for usage."
    );
    assert!(rejected(&["frob", "--help"]).starts_with("unknown subcommand 'frob'"));
    assert!(rejected(&["warden.toml"]).starts_with("unknown subcommand 'warden.toml'"));
    // After a subcommand, or after options, a stray word stays a stray argument.
    assert!(rejected(&["run", "frob"]).starts_with("unexpected argument 'frob'"));
    assert!(rejected(&["-c", "a.toml", "frob"]).starts_with("unexpected argument 'frob'"));
    assert!(rejected(&["status", "status"]).starts_with("unexpected argument 'status'"));
}

#[test]
fn each_subcommand_has_its_own_help() {
    for sub in Subcommand::ALL {
        let help = help_text(Some(sub));
        assert!(
            help.starts_with(&format!("warden {}: ", sub.word()))
                && help.contains(&format!("Usage:\n  {}\n", sub.synopsis()))
                && help.contains("  -h, --help")
                && help.contains("Exit codes:\n  0  "),
            "{help}"
        );
        for &opt in sub.options() {
            let line = help
                .lines()
                .find(|l| {
                    l.trim_start()
                        .starts_with(opt.short().unwrap_or(opt.long()))
                })
                .unwrap_or_else(|| panic!("{} missing in\n{help}", opt.long()));
            assert!(line.contains(opt.long()), "{line}");
            if let Some(value) = opt.value_name() {
                assert!(line.contains(&format!("{} {value}", opt.long())), "{line}");
            }
        }
        // It is about this subcommand only.
        for other in Subcommand::ALL.into_iter().filter(|&o| o != sub) {
            assert!(!help.contains(other.synopsis()), "{help}");
        }
        for opt in CliOption::ALL
            .into_iter()
            .filter(|o| !sub.options().contains(o))
        {
            assert!(!help.contains(opt.long()), "{} in\n{help}", opt.long());
        }
    }
    for sub in Subcommand::ALL {
        let help = subcommand_help(sub);
        for line in help.lines() {
            assert!(line.chars().count() <= 79, "too wide: {line:?}");
        }
    }
    // A long option or exit-code line goes on under its text, not its label.
    let restore = subcommand_help(Subcommand::Restore);
    assert!(
        restore.contains(
            "  1  a setting could not be put back (the state file is kept), or the warden\n     that saved it"
        ),
        "{restore}"
    );
    let status = subcommand_help(Subcommand::Status);
    assert!(status.contains("(default 127.0.0.1:9181)"), "{status}");
    assert!(status.contains("--addr=HOST:PORT"), "{status}");
    assert_eq!(help_text(None), HELP);
}

#[test]
fn help_readme_and_parser_agree() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("## Command line")
        .expect("README has a Command line section");
    let section = &readme[start..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 3)];
    for sub in Subcommand::ALL {
        let synopsis = sub.synopsis();
        assert!(
            HELP.contains(&format!("  {synopsis}")),
            "{synopsis} not in HELP"
        );
        assert!(
            section.contains(&format!("\n{synopsis} ")),
            "{synopsis} not in README"
        );
    }
    for line in [
        "warden <subcommand> --help",
        "warden --version | --help",
        "--config=FILE",
    ] {
        assert!(HELP.contains(line) && section.contains(line), "{line}");
    }
    assert!(HELP.contains(&format!(
        "echo on {}",
        crate::config::defaults::DEFAULT_SERVER_LISTEN
    )));
    assert!(HELP.contains(&format!(
        "default {}",
        crate::config::defaults::DEFAULT_STATUS_LISTEN
    )));
    // The exit-code lines quote the open-file minimum the daemon enforces.
    let below = format!("open-file limit below {}", crate::rlimit::MIN_NOFILE);
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words(HELP).contains(&below), "{below} not in HELP");
    assert!(
        words(&help_text(Some(Subcommand::Run))).contains(&below),
        "{below} not in 'warden run --help'"
    );
}
