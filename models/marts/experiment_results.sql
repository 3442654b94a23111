{#- Per experiment and variant, over assigned users not excluded: conversion, and for each
    non-control variant the pooled two-proportion z-test against control (two-sided p-value) with
    the 95% interval of the difference (unpooled standard error). srm_p_value is the chi-square
    goodness-of-fit p-value of users per variant against the expected split (var
    experiment_expected_split, equal by default). -#}

{%- set splits = var('experiment_expected_split') or {} %}

with

assignments as (
    select * from {{ ref('experiment_assignments') }}
),

excluded as (
    select
        experiment_id,
        count(*) as excluded_users
    from assignments
    where is_excluded
    group by experiment_id
),

variants as (
    select
        experiment_id,
        variant,
        count(*) as users,
        count(case when converted then 1 end) as converters
    from assignments
    where not is_excluded
    group by experiment_id, variant
),

expected_weights as (
    select
        variants.*,
        {%- if splits %}
            coalesce(case
                {%- for experiment_id, weights in splits.items() %}
                    {%- for variant, weight in weights.items() %}
                        when variants.experiment_id = {{ sql_string(experiment_id) }}
                            and variants.variant = {{ sql_string(variant) }} then {{ split_weight(weight) }}
                    {%- endfor %}
                {%- endfor %}
            end, case when variants.experiment_id in (
                {{ sql_list(splits) }}
            ) then 0.0 else 1.0 end) as expected_weight
        {%- else %}
            1.0 as expected_weight
        {%- endif %}
    from variants
),

srm_terms as (
    select
        *,
        -- the weights are decimals: their quotient as a double, as DuckDB divides decimals
        cast(sum(users) over (partition by experiment_id) * expected_weight as double)
        / cast(sum(expected_weight) over (partition by experiment_id) as double) as expected_users,
        count(*) over (partition by experiment_id) - 1 as srm_degrees_of_freedom
    from expected_weights
),

srm as (
    select
        experiment_id,
        any_value(srm_degrees_of_freedom) as degrees_of_freedom,
        sum(pow(users - expected_users, 2) / nullif(expected_users, 0)) as chi_square
    from srm_terms
    group by experiment_id
),

with_control as (
    select
        variants.*,
        control.users as control_users,
        control.converters as control_converters,
        cast(variants.converters as double) / variants.users as conversion_rate,
        cast(control.converters as double) / control.users as control_rate,
        cast(variants.converters + control.converters as double)
        / (variants.users + control.users) as pooled_rate
    from variants
    left join variants as control
        on
            variants.experiment_id = control.experiment_id
            and control.variant = {{ sql_string(var('experiment_control_variant')) }}
            and variants.variant != control.variant
),

tests as (
    select
        *,
        conversion_rate - control_rate as absolute_lift,
        (conversion_rate - control_rate) / nullif(control_rate, 0) as relative_lift,
        (conversion_rate - control_rate) / nullif(sqrt(
            pooled_rate * (1 - pooled_rate) * (1 / cast(users as double) + 1 / cast(control_users as double))
        ), 0) as z_score,
        sqrt(
            conversion_rate * (1 - conversion_rate) / users
            + control_rate * (1 - control_rate) / control_users
        ) as unpooled_standard_error
    from with_control
)

select
    tests.experiment_id,
    tests.variant,
    tests.variant = {{ sql_string(var('experiment_control_variant')) }} as is_control,
    cast(tests.users as integer) as users,
    cast(tests.converters as integer) as converters,
    tests.conversion_rate,
    tests.absolute_lift,
    tests.relative_lift,
    tests.z_score,
    {{ normal_two_sided_p('tests.z_score') }} as p_value,
    tests.absolute_lift - 1.959963984540054 * tests.unpooled_standard_error as ci_low,
    tests.absolute_lift + 1.959963984540054 * tests.unpooled_standard_error as ci_high,
    case
        when srm.degrees_of_freedom >= 1
            then {{ chi_square_sf('srm.chi_square', 'srm.degrees_of_freedom') }}
    end as srm_p_value,
    cast(coalesce(excluded.excluded_users, 0) as integer) as excluded_users
from tests
inner join srm on tests.experiment_id = srm.experiment_id
left join excluded on tests.experiment_id = excluded.experiment_id
