#!/bin/sh
# The event-analytics CLI as cron runs it (examples/cron/crontab): the PII key from a file, a timestamped
# line before and after the run, and the exit code with what it means. Arguments: the CLI's
# (run --wait 600 ...). Environment:
#   EVENT_ANALYTICS_PII_KEY_FILE  the key's file (default /etc/event-analytics/pii.key: readable by the
#                                 crontab's user alone); not read when EVENT_ANALYTICS_PII_KEY is set
#   EVENT_ANALYTICS_CLI           the CLI (default: .venv/bin/event-analytics of the checkout this is in)
set -u
project=$(cd "$(dirname "$0")/../.." && pwd)
cli=${EVENT_ANALYTICS_CLI:-$project/.venv/bin/event-analytics}
key_file=${EVENT_ANALYTICS_PII_KEY_FILE:-/etc/event-analytics/pii.key}

stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }

echo "$(stamp) event-analytics $* (pid $$): started"
if [ -z "${EVENT_ANALYTICS_PII_KEY:-}" ]; then
    if ! EVENT_ANALYTICS_PII_KEY=$(cat -- "$key_file"); then
        echo "$(stamp) event-analytics finished: exit 2 (configuration error: cannot read the PII key file $key_file)"
        exit 2
    fi
    export EVENT_ANALYTICS_PII_KEY
fi
cd "$project" || exit 2
"$cli" "$@"
code=$?
case $code in
    0) meaning="ok" ;;
    1) meaning="validation failed: nothing published, BI tools keep the last good copy" ;;
    2) meaning="configuration error" ;;
    3) meaning="pipeline error: the next run redoes it" ;;
    4) meaning="busy: the warehouse was held all through --wait; the next run does the work" ;;
    *) meaning="killed or crashed" ;;
esac
echo "$(stamp) event-analytics finished: exit $code ($meaning)"
exit $code
