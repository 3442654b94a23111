{#- Joins and query hints as engines spell them. -#}

{#- The rows of the left side with no match on the right: `<left> {{ anti_join() }} <right> on ...`. -#}
{% macro anti_join() -%}
    {{ return(adapter.dispatch('anti_join', 'event_analytics')()) }}
{%- endmacro %}

{% macro default__anti_join() -%}
    anti join
{%- endmacro %}

{% macro spark__anti_join() -%}
    left anti join
{%- endmacro %}

{#- Whether a CTE is computed once (`materialized`: true) or inlined into each use (false). Spark
    decides for itself: nothing. -#}
{% macro cte_materialization(materialized) -%}
    {{ return(adapter.dispatch('cte_materialization', 'event_analytics')(materialized)) }}
{%- endmacro %}

{% macro default__cte_materialization(materialized) -%}
    {% if materialized %}materialized{% else %}not materialized{% endif %}
{%- endmacro %}

{% macro spark__cte_materialization(materialized) -%}
{%- endmacro %}

{#-
  The rows of `left_relation` (its columns `left_columns`), each with `next_column`: the earliest
  `right_time` of `right_relation` among its rows whose `right_key` equals the row's `left_key`
  and that come strictly after its `left_time` (null when there is none). Column names,
  unqualified. DuckDB: an ASOF LEFT JOIN. Spark has none: the left rows and the right ones are
  sorted together per key, latest first, and each left row takes the least right time seen before
  it (a running minimum: one sort, the left relation read once; a lateral subquery compared every
  pair, and a join back would read it twice, which doubles a chain of them at every step).
-#}
{% macro asof_next_rows(left_relation, left_columns, left_key, left_time, right_relation, right_key, right_time, next_column) -%}
    {{ return(adapter.dispatch('asof_next_rows', 'event_analytics')(
        left_relation, left_columns, left_key, left_time, right_relation, right_key, right_time, next_column
    )) }}
{%- endmacro %}

{% macro default__asof_next_rows(left_relation, left_columns, left_key, left_time, right_relation, right_key, right_time, next_column) -%}
    select
        {%- for column in left_columns %}
        asof_left.{{ column }},
        {%- endfor %}
        asof_right.{{ right_time }} as {{ next_column }}
    from {{ left_relation }} as asof_left
    asof left join {{ right_relation }} as asof_right
        on
            asof_left.{{ left_key }} = asof_right.{{ right_key }}
            and asof_left.{{ left_time }} < asof_right.{{ right_time }}
{%- endmacro %}

{#- At equal times a left row sorts before the right rows (is_right false first), so they are
    not before it: strictly after. A left row without a time (nulls sort last) matches nothing. -#}
{% macro spark__asof_next_rows(left_relation, left_columns, left_key, left_time, right_relation, right_key, right_time, next_column) -%}
    select
        {%- for column in left_columns %}
        {{ column }},
        {%- endfor %}
        {{ next_column }}
    from (
        select
            *,
            case when asof_time is not null then min(case when asof_is_right then asof_time end) over (
                partition by asof_key
                order by asof_time desc, asof_is_right
                rows between unbounded preceding and current row
            ) end as {{ next_column }}
        from (
            select
                {%- for column in left_columns %}
                {{ column }},
                {%- endfor %}
                {{ left_key }} as asof_key,
                {{ left_time }} as asof_time,
                false as asof_is_right
            from {{ left_relation }}
            union all
            select
                {%- for column in left_columns %}
                null as {{ column }},
                {%- endfor %}
                {{ right_key }} as asof_key,
                {{ right_time }} as asof_time,
                true as asof_is_right
            from {{ right_relation }}
        ) as asof_points
    ) as asof_sorted
    where not asof_is_right
{%- endmacro %}
