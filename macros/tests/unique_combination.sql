{#- Our own stand-in for dbt_utils.unique_combination_of_columns (no packages can be fetched here). -#}
{% test unique_combination_of_columns(model, columns) %}
    select {{ columns | join(', ') }}
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
