{#-
  Spark's file tables (Parquet, without Delta) cannot delete rows, so an incremental model that
  replaces rows by key rewrites its table (replace_table_rows). A big one is split into partitions
  (`table_partitions`, its config's partition_by) and only the partitions a run changes are written
  again, by an insert overwrite in Spark's dynamic partition overwrite mode, unless they hold most
  of the table.
  A run stops safely at any point: the new contents of the changed partitions are written to
  `<table>__pending` first, and the list of those partitions then becomes `<table>__pending_parts`,
  which commits the change. From then on the overwrite is redone, at the start of the next run
  (recover_partition_replacements) if this one stops, until it has been applied whole.
-#}

{#- The columns a model's table is partitioned by, for its config's partition_by: on engines whose
    incremental models replace whole partitions (Spark's file tables), none elsewhere. -#}
{% macro table_partitions(column) -%}
    {{ return(adapter.dispatch('table_partitions', 'event_analytics')(column)) }}
{%- endmacro %}

{% macro default__table_partitions(column) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__table_partitions(column) -%}
    {{ return([column]) }}
{%- endmacro %}

{#-
  `relation` (partitioned by `column`) becomes the rows of `selects` (queries with its columns in
  order, which may read it) in the partitions `changed` (a query of their values) lists; its other
  partitions are not written. The changed partitions are written twice (to the pending table, then
  to the table), so when they hold more than half the table's rows, rewriting the table whole
  (replace_table_rows) writes less: measured at 1M events, a day's events re-sessionize devices of
  30 dates of 31.
-#}
{% macro replace_partitions(relation, column, changed, selects) %}
    {%- set pending, parts, listed = pending_relations(relation) -%}
    {#- a committed change left by a run whose on-run-start did not complete it: its list goes with it -#}
    {%- if table_exists(parts) -%}
        {%- do apply_pending_partitions(relation, column) -%}
    {%- endif -%}
    {%- do run_statements([
        'drop table if exists ' ~ pending,
        'drop table if exists ' ~ listed,
        'create table ' ~ listed ~ ' using parquet as select distinct ' ~ column ~ ' from (' ~ changed ~ ') as changed',
    ]) -%}
    {%- set shares = run_query(
        'select (select count(*) from ' ~ relation ~ ' as stored_rows left semi join ' ~ listed
        ~ ' as listed on stored_rows.' ~ column ~ ' <=> listed.' ~ column ~ '), (select count(*) from ' ~ relation ~ ')'
    ).rows[0] -%}
    {%- if shares[0] * 2 > shares[1] -%}
        {%- do log(relation ~ ': the changed partitions hold ' ~ shares[0] ~ ' of ' ~ shares[1] ~ ' rows: rewritten whole') -%}
        {%- do run_statements(['drop table ' ~ listed]) -%}
        {%- do replace_table_rows(relation, selects) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set statements = ['create table ' ~ pending ~ ' like ' ~ relation] -%}
    {%- for select in selects -%}
        {%- do statements.append(
            'insert into ' ~ pending ~ '\nselect written.* from (' ~ select ~ ') as written left semi join '
            ~ listed ~ ' as listed on written.' ~ column ~ ' <=> listed.' ~ column
        ) -%}
    {%- endfor -%}
    {#- the commit: from here the overwrite is redone until it is whole -#}
    {%- do statements.append('alter table ' ~ listed ~ ' rename to ' ~ parts) -%}
    {%- do run_statements(statements) -%}
    {%- do apply_pending_partitions(relation, column) -%}
{% endmacro %}

{#- The overwrite of a committed change: idempotent, so a stopped one is redone whole. -#}
{% macro apply_pending_partitions(relation, column) %}
    {%- set pending, parts, _ = pending_relations(relation) -%}
    {%- set emptied = run_query(
        'select parts.' ~ column ~ ' from ' ~ parts ~ ' as parts left anti join ' ~ pending
        ~ ' as pending on parts.' ~ column ~ ' <=> pending.' ~ column
    ).columns[0].values() -%}
    {%- set statements = [
        'set spark.sql.sources.partitionOverwriteMode = dynamic',
        'insert overwrite table ' ~ relation ~ ' partition (' ~ column ~ ') select * from ' ~ pending,
        'reset spark.sql.sources.partitionOverwriteMode',
    ] -%}
    {#- A partition left with no row is not in the overwrite's output, which keeps it as it was. -#}
    {%- for value in emptied -%}
        {%- do statements.append(
            'alter table ' ~ relation ~ ' drop if exists partition (' ~ column ~ ' = '
            ~ ('null' if value is none else sql_string(value)) ~ ')'
        ) -%}
    {%- endfor -%}
    {%- do statements.extend(['drop table ' ~ pending, 'drop table ' ~ parts]) -%}
    {%- do run_statements(statements) -%}
{% endmacro %}

{% macro pending_relations(relation) -%}
    {{ return([
        relation.incorporate(path={'identifier': relation.identifier ~ '__pending'}),
        relation.incorporate(path={'identifier': relation.identifier ~ '__pending_parts'}),
        relation.incorporate(path={'identifier': relation.identifier ~ '__pending_list'}),
    ]) }}
{%- endmacro %}

{#- on-run-start: the partition overwrites a stopped run committed are applied before any model reads
    their tables. -#}
{% macro recover_partition_replacements() %}
    {{ return(adapter.dispatch('recover_partition_replacements', 'event_analytics')()) }}
{% endmacro %}

{% macro default__recover_partition_replacements() %}
{% endmacro %}

{% macro spark__recover_partition_replacements() %}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.config.materialized == 'incremental'
                and partition_column(node.config.partition_by) -%}
            {%- set relation = api.Relation.create(schema=node.schema, identifier=node.alias) -%}
            {%- set pending, parts, _ = pending_relations(relation) -%}
            {%- if table_exists(parts) -%}
                {%- if table_exists(relation) and table_exists(pending) -%}
                    {%- do log('Completing the partition overwrite of ' ~ relation ~ ' that a stopped run committed', info=true) -%}
                    {%- do apply_pending_partitions(relation, partition_column(node.config.partition_by)) -%}
                {%- else -%}
                    {%- do run_statements(['drop table if exists ' ~ pending, 'drop table ' ~ parts]) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{#- The partition column of `relation`, this model's table, when it is stored partitioned as its
    config says: a table built before its model was partitioned keeps being replaced whole until a
    full refresh rebuilds it. -#}
{% macro partitioned_by(relation) %}
    {%- set configured = partition_column(config.get('partition_by')) -%}
    {%- if not configured -%}{{ return(none) }}{%- endif -%}
    {%- set stored = [] -%}
    {%- set in_partition_section = namespace(on=false) -%}
    {%- for row in run_query('describe table ' ~ relation) -%}
        {%- set name = (row[0] or '') | trim -%}
        {%- if name == '# Partition Information' -%}
            {%- set in_partition_section.on = true -%}
        {%- elif in_partition_section.on and name and not name.startswith('#') -%}
            {%- do stored.append(name | lower) -%}
        {%- elif in_partition_section.on and not name -%}
            {%- set in_partition_section.on = false -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(configured if stored == [configured | lower] else none) }}
{% endmacro %}

{#- The one column of a partition_by config (a name or a list of one); none for none or several,
    which these macros do not handle (such a table is rewritten whole). -#}
{% macro partition_column(partition_by) -%}
    {%- set columns = [partition_by] if partition_by is string else (partition_by or []) -%}
    {{ return(columns[0] if columns | length == 1 else none) }}
{%- endmacro %}

{#- Whether the catalogue has the table now: these tables are made and dropped by statements that
    dbt's cache of relations does not see. -#}
{% macro table_exists(relation) -%}
    {{ return(run_query('show tables in ' ~ relation.schema ~ " like '" ~ relation.identifier ~ "'").rows | length > 0) }}
{%- endmacro %}
