{#-
    roll_up_days(relation, sums): `relation` has one row per account_id and
    deal_date with the columns in `sums`; one row per account and period for
    each aggregation type, with those columns summed (cast with `types`):
    daily (the day's row as it is), weekly (the Monday of its week) and
    monthly (the first of its month). The days are already one row per
    account and day, so only weeks and months are grouped again (at
    10,000,000 deals, grouping the ~9,000,000 daily rows a second time cost
    a third of the model's time).
-#}
{% macro roll_up_days(relation, sums, types) -%}
    {%- set periods = [
        ('weekly', 'cast(' ~ dbt.date_trunc('week', 'deal_date') ~ ' as date)'),
        ('monthly', 'cast(' ~ dbt.date_trunc('month', 'deal_date') ~ ' as date)'),
    ] -%}
    select
        account_id,
        cast('daily' as {{ varchar_type() }}) as aggregation_type,
        deal_date as aggregation_date
        {%- for column in sums -%},
        cast({{ column }} as {{ types[loop.index0] }}) as {{ column }}
        {%- endfor %}
    from {{ relation }}
    {%- for aggregation_type, period_start in periods %}
    union all
    select
        account_id,
        cast('{{ aggregation_type }}' as {{ varchar_type() }})
            as aggregation_type,
        {{ period_start }} as aggregation_date
        {%- for column in sums -%},
        cast(sum({{ column }}) as {{ types[loop.index0] }}) as {{ column }}
        {%- endfor %}
    from {{ relation }}
    group by account_id, {{ period_start }}
    {%- endfor %}
{%- endmacro %}
