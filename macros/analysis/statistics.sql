{#-
  The one place p-values are computed, in SQL so the marts hold them. erfc is Numerical Recipes'
  Chebyshev fit (fractional error < 1.2e-7 everywhere), which keeps p-values within 1e-6 of
  scipy.stats (tests/python/test_experiments.py checks them against scipy).
-#}

{% macro erfc(x) -%}
    (
        case when ({{ x }}) >= 0 then 1 else -1 end
        * (
            (1.0 / (1.0 + 0.5 * abs({{ x }})))
            * exp(
                -abs({{ x }}) * abs({{ x }}) - 1.26551223
                + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (1.00002368
                + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (0.37409196
                + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (0.09678418
                + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (-0.18628806
                + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (0.27886807
                + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (-1.13520398
                + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (1.48851587
                + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (-0.82215223
                + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * 0.17087277))))))))
            )
            - 1
        )
        + 1
    )
{%- endmacro %}

{#- Two-sided p-value of a standard normal statistic: P(|Z| >= |z|). -#}
{#- The fit gives erfc(0) = 1.00000003: a p-value is capped at 1 (equal rates, an exact split).
    least() skips nulls: a null statistic stays a null p-value. -#}
{% macro normal_two_sided_p(z) -%}
    case when ({{ z }}) is not null then least(1.0, {{ erfc('abs(' ~ z ~ ') / sqrt(2.0)') }}) end
{%- endmacro %}

{#-
  Chi-square survival function P(X >= x) for whole degrees of freedom 1..max_df, by the closed
  forms: even df = 2m: exp(-x/2) * sum_{i<m} (x/2)^i / i!; odd df = 2m+1:
  erfc(sqrt(x/2)) + exp(-x/2) * sum_{i=1..m} (x/2)^(i-1/2) / gamma(i+1/2).
-#}
{% macro chi_square_sf(x, df, max_df=20) -%}
    case when ({{ x }}) is not null then least(1.0, case {{ df }}
    {%- for k in range(1, max_df + 1) %}
        when {{ k }} then
        {%- if k % 2 == 0 %}
            exp(-({{ x }}) / 2.0) * (
            {%- for i in range(k // 2) %}
                {{ ' + ' if not loop.first }}pow(({{ x }}) / 2.0, {{ i }}) / {{ factorial(i) }}
            {%- endfor %}
            )
        {%- else %}
            {{ erfc('sqrt((' ~ x ~ ') / 2.0)') }}
            {%- for i in range(1, (k - 1) // 2 + 1) %}
                + exp(-({{ x }}) / 2.0) * pow(({{ x }}) / 2.0, {{ i }} - 0.5) / {{ gamma_half(i) }}
            {%- endfor %}
        {%- endif %}
    {%- endfor %}
    end) end
{%- endmacro %}

{% macro factorial(n) -%}
    {%- set result = namespace(value=1) -%}
    {%- for i in range(2, n + 1) -%}{%- set result.value = result.value * i -%}{%- endfor -%}
    {{ result.value }}.0
{%- endmacro %}

{#- gamma(i + 1/2) = (2i)! sqrt(pi) / (4^i i!) -#}
{% macro gamma_half(i) -%}
    ({{ factorial(2 * i) }} * sqrt(pi()) / ({{ 4 ** i }}.0 * {{ factorial(i) }}))
{%- endmacro %}
