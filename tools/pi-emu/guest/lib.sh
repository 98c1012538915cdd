# shellcheck shell=dash disable=SC2034
# Shell helpers shared by the guest's /init and /bin/piemu-command (busybox sh).
# Sourced, not run. Every line meant for the host starts with "PIEMU ".

PIEMU_RUN=/run/piemu

# Prints "PIEMU <args>" on the serial console (the test's record).
say() { echo "PIEMU $*" >/dev/console; }

# Seconds since the kernel started, as /proc/uptime has them.
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# Prints "gpio<PIN>=hi|lo function=<fsel>" as the kernel reads the registers
# now (pinctrl-bcm2835 reads GPLEV0 and GPFSEL on every read of its debugfs
# "pins" file). Needs PIN and PINS_FILE (from $PIEMU_RUN/env).
gpio_level() {
  local line function level
  line=$(grep "^pin $PIN (gpio$PIN) " "$PINS_FILE")
  function=$(echo "$line" | sed -n 's/.* function \([^ ]*\) in .*/\1/p')
  level=$(echo "$line" | sed -n 's/.* in \(hi\|lo\);.*/\1/p')
  echo "gpio$PIN=${level:-unknown} function=${function:-unknown}"
}
