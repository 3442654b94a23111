{#- A sum of money that does not depend on the order the rows come in: added as decimals (exact),
    then a double. Doubles added in whatever order the engine's threads take the rows differ in
    the last digit from run to run (measured: 3243.6000000000004, then 3243.600000000001), which
    would make an incremental run differ from a full refresh. Amounts keep 9 decimals. -#}
{% macro money_sum(expression) -%}
    sum(cast({{ expression }} as decimal(38, 9)))
{%- endmacro %}

{#- The decimal a money_sum gives, as the marts' double. -#}
{% macro money_value(expression) -%}
    cast({{ expression }} as double)
{%- endmacro %}
