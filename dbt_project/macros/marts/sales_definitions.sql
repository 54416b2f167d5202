{#-
    The definitions of the sales marts, written once (docs: the doc blocks
    `stage_category`, `close_date`, `win_rate`, `reporting_day` in
    models/marts/sales/_sales__docs.md). The stage category itself comes
    from the seed `map_stage_category` (model int_deals_enriched).
-#}

{#- local_date(expr): the day a naive UTC timestamp falls on in var
    `reporting_time_zone`. -#}
{% macro local_date(expr) -%}
    cast({{ utc_to_local(expr, var('reporting_time_zone')) }} as date)
{%- endmacro %}

{#- as_of_timestamp(): the build's "now", naive UTC (ages and days in the
    current stage run up to it). -#}
{% macro as_of_timestamp() -%}
    {{ to_utc_naive(dbt.current_timestamp()) }}
{%- endmacro %}

{#- as_of_date(): the build's day in the reporting time zone. -#}
{% macro as_of_date() -%}
    {{ local_date(as_of_timestamp()) }}
{%- endmacro %}

{#- is_won(category) / is_lost(category): what counts as won and lost. -#}
{% macro is_won(category) -%}
    ({{ category }} = 'won')
{%- endmacro %}

{% macro is_lost(category) -%}
    ({{ category }} = 'lost')
{%- endmacro %}

{#-
    deal_close_date(category, closed_date, stage_entered_at): the close date
    of a won or lost deal: the CRM's closed_date, else the local day it
    entered its stage; NULL for an open deal.
-#}
{% macro deal_close_date(category, closed_date, stage_entered_at) -%}
    case
        when {{ is_won(category) }} or {{ is_lost(category) }}
            then coalesce({{ closed_date }}, {{ local_date(stage_entered_at) }})
    end
{%- endmacro %}

{#- ratio(numerator, denominator): a double, NULL when the denominator is 0
    (IEEE division of the same operands gives the same bits on every
    engine, so the marts compare equal across DuckDB, PostgreSQL, Spark). -#}
{% macro ratio(numerator, denominator) -%}
    case
        when {{ denominator }} > 0
            then cast({{ numerator }} as {{ double_type() }})
            / cast({{ denominator }} as {{ double_type() }})
    end
{%- endmacro %}

{#- win_rate(won, lost): won / (won + lost) over the deals closed in the
    period; NULL, not 0, when none closed. -#}
{% macro win_rate(won, lost) -%}
    {{ ratio(won, '(' ~ won ~ ') + (' ~ lost ~ ')') }}
{%- endmacro %}

{#- The contract's double (DuckDB's `float` would be 4 bytes). -#}
{% macro double_type() -%}
    {{ return(adapter.dispatch('double_type', 'crm_management')()) }}
{%- endmacro %}

{% macro default__double_type() -%}
    double precision
{%- endmacro %}

{% macro spark__double_type() -%}
    double
{%- endmacro %}

{#- A percentage from 0 to 100 with two decimals. -#}
{% macro percent_type() -%}
    {{ return(adapter.dispatch('percent_type', 'crm_management')()) }}
{%- endmacro %}

{% macro default__percent_type() -%}
    numeric(5, 2)
{%- endmacro %}

{% macro spark__percent_type() -%}
    decimal(5, 2)
{%- endmacro %}

{#- The naive timestamp type of the contracts (Spark's `timestamp` is an
    instant; its naive type is timestamp_ntz). -#}
{% macro naive_timestamp_type() -%}
    {{ return(adapter.dispatch('naive_timestamp_type', 'crm_management')()) }}
{%- endmacro %}

{% macro default__naive_timestamp_type() -%}
    {{ dbt.type_timestamp() }}
{%- endmacro %}

{% macro spark__naive_timestamp_type() -%}
    timestamp_ntz
{%- endmacro %}

{#-
    owner_name(owner_id, owners): the name shown for a deal's or an
    activity's owner, given the owner id and the alias of a joined
    stg_freshsales__owners row: `Unassigned` without an owner (NULL or 0),
    `Unknown user <id>` for an id not in the CRM's user list.
-#}
{% macro owner_name(owner_id, owners) -%}
    case
        when {{ owner_id }} is null or {{ owner_id }} = 0 then 'Unassigned'
        when {{ owners }}.id is null
            then
                'Unknown user '
                || cast({{ owner_id }} as {{ dbt.type_string() }})
        else
            coalesce(
                {{ owners }}.display_name, {{ owners }}.email, 'Unnamed user'
            )
    end
{%- endmacro %}
