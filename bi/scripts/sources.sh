#!/bin/sh
# `npm run sources`: Evidence's source queries (sources/marts/*.sql) read the Parquet files of the
# pipeline's serving copy: $EVENT_ANALYTICS_SERVING_DIR, else ../warehouse/serving (relative to
# bi/; the Makefile passes an absolute path). Evidence substitutes ${parquet_dir} in them with
# $EVIDENCE_VAR__parquet_dir: the version folder the `parquet` symlink points at now, so every
# query reads the same publish even if another one lands while they run.
set -eu
serving="${EVENT_ANALYTICS_SERVING_DIR:-../warehouse/serving}"
if [ ! -f "$serving/manifest.json" ] || [ ! -d "$serving/parquet" ]; then
    echo "$serving: no published serving copy (manifest.json and parquet/); run the pipeline first or set EVENT_ANALYTICS_SERVING_DIR" >&2
    exit 2
fi
parquet_dir=$(realpath "$serving/parquet")
case "$parquet_dir" in
    *"'"* | *'${'*)
        echo "$parquet_dir: a path with ' or \${ cannot go into the source queries' SQL" >&2
        exit 2 ;;
esac
export EVIDENCE_VAR__parquet_dir="$parquet_dir"
export EVIDENCE_VAR__publish_id="$(basename "$parquet_dir")"
echo "Reading $parquet_dir (publish $EVIDENCE_VAR__publish_id)"

# This Evidence version reports a failed source query and exits 0 (it has no --strict): start from
# an empty output folder and check that every query wrote its table.
data=.evidence/template/static/data
rm -rf "$data/marts"
evidence sources "$@"
missing=""
for query in sources/marts/*.sql; do
    name=$(basename "$query" .sql)
    [ -s "$data/marts/$name/$name.parquet" ] || missing="$missing $name"
done
if [ -n "$missing" ]; then
    echo "source queries that failed:$missing" >&2
    exit 1
fi
