{#-
    State of the incremental deal_aggregations: which (account, day, size)
    each deal contributed at the last build (the model
    int_deal_aggregations_state). deal_aggregations diffs the current deals
    against it to find every (account, period) group a sync touched,
    including the old group of a deal that moved, lost its size or was
    deleted. Its post-hooks rewrite the state in the same transaction as
    the delete+insert, so state and table never drift apart.
-#}

{#- deal_contributions_sql(deals_relation, time_zone): the contribution of
    each deal with a size: its account, local day and size in the base
    currency (`deal_size_base`, kept in the state's column `deal_size`). -#}
{% macro deal_contributions_sql(deals_relation, time_zone) -%}
    select
        id as deal_crm_id,
        account_id,
        cast({{ utc_to_local('created_at', time_zone) }} as date) as deal_date,
        deal_size_base as deal_size
    from {{ deals_relation }}
    where deal_size_base is not null
{%- endmacro %}

{#- deal_aggregation_state_sql(deals_relation, time_zone): the state's rows
    (the contributions, stamped with the time zone they were cut in). -#}
{% macro deal_aggregation_state_sql(deals_relation, time_zone) -%}
    select
        contributions.deal_crm_id,
        contributions.account_id,
        contributions.deal_date,
        contributions.deal_size,
        cast('{{ time_zone }}' as {{ dbt.type_string() }})
            as reporting_time_zone
    from (
        {{ deal_contributions_sql(deals_relation, time_zone) }}
    ) as contributions
{%- endmacro %}

{#-
    deal_aggregation_state_is_usable(state, time_zone): TRUE when the state
    was written for this time zone by a build of the current table. An
    empty state next to a table with rows was not (the declared_table
    materialization created it empty): every group is recomputed then.
-#}
{% macro deal_aggregation_state_is_usable(state, time_zone) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(
        database=state.database, schema=state.schema,
        identifier=state.identifier) -%}
    {%- if existing is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set result = run_query(
        "select"
        ~ " (select count(*) from " ~ state
        ~ " where reporting_time_zone <> '" ~ time_zone ~ "'),"
        ~ " (select count(*) from " ~ state ~ "),"
        ~ " (select count(*) from (select 1 as present from " ~ this
        ~ " limit 1) as sample_rows)") -%}
    {%- set other_zone_rows = result.columns[0].values()[0] -%}
    {%- set state_rows = result.columns[1].values()[0] -%}
    {%- set table_rows = result.columns[2].values()[0] -%}
    {{ return(other_zone_rows == 0 and (state_rows > 0 or table_rows == 0)) }}
{%- endmacro %}

{#-
    Post-hooks of deal_aggregations: replace the state with this build's
    contributions (two statements, as engines such as Spark run one
    statement per call).
-#}
{% macro drop_deal_aggregation_state(state) -%}
    drop table if exists {{ state }}
{%- endmacro %}

{% macro save_deal_aggregation_state(state, deals_relation, time_zone) -%}
    create table {{ state }} as
    {{ deal_aggregation_state_sql(deals_relation, time_zone) }}
{%- endmacro %}
