{#-
    expand_to_periods(relation, extra_columns): one row per input row and
    aggregation type: daily (the day), weekly (the Monday of its week),
    monthly (the first of its month). `relation` has account_id, deal_date.
-#}
{% macro expand_to_periods(relation, extra_columns) -%}
    {%- set periods = [
        ('daily', 'deal_date'),
        ('weekly', 'cast(' ~ dbt.date_trunc('week', 'deal_date') ~ ' as date)'),
        ('monthly', 'cast(' ~ dbt.date_trunc('month', 'deal_date') ~ ' as date)'),
    ] -%}
    {%- for aggregation_type, period_start in periods %}
    select
        account_id,
        cast('{{ aggregation_type }}' as {{ varchar_type() }})
            as aggregation_type,
        {{ period_start }} as aggregation_date
        {%- for column in extra_columns -%},
        {{ column }}
        {%- endfor %}
    from {{ relation }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
