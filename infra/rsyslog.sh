#!/usr/bin/env bash
# Installs what tests/consumer.rs needs to use rsyslog as a real syslog receiver: rsyslog with
# its GnuTLS stream driver (for RFC 5425 over TLS) and openssl (to make the test certificates).
# The tests start their own rsyslogd in the foreground on 127.0.0.1; the system one is not used.
set -euo pipefail
if [ -x /usr/sbin/rsyslogd ] && [ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so -o -e /usr/lib/rsyslog/lmnsd_gtls.so ] \
  && command -v openssl >/dev/null; then
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q rsyslog rsyslog-gnutls openssl >/dev/null \
  || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q rsyslog rsyslog-gnutls openssl >/dev/null; }
# The package may start the system daemon; the tests do not need it.
$SUDO pkill -x rsyslogd 2>/dev/null || true
