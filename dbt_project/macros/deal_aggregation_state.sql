{#-
    State of the incremental deal_aggregations: which (account, day, size)
    each deal contributed at the last build. The model diffs the current
    deals against it to find every (account, period) group a sync touched,
    including the old group of a deal that moved, lost its size or was
    deleted. The post-hook rewrites it in the same transaction as the
    delete+insert, so state and table never drift apart.
-#}

{#- The contribution of each deal with a size: its account and local day. -#}
{% macro deal_contributions_sql(deals_relation, time_zone) -%}
    select
        id as deal_crm_id,
        account_id,
        cast({{ utc_to_local('created_at', time_zone) }} as date) as deal_date,
        deal_size
    from {{ deals_relation }}
    where deal_size is not null
{%- endmacro %}

{% macro deal_aggregation_state_relation() -%}
    {%- set schema = generate_schema_name('intermediate', model) | trim -%}
    {{ return(api.Relation.create(
        database=this.database,
        schema=schema,
        identifier='int_deal_aggregations_state',
        type='table')) }}
{%- endmacro %}

{#- TRUE when the state exists and was written for this time zone. -#}
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
        "select count(*) from " ~ state
        ~ " where reporting_time_zone <> '" ~ time_zone ~ "'") -%}
    {{ return(result.columns[0].values()[0] == 0) }}
{%- endmacro %}

{#-
    Post-hooks: replace the state with this build's contributions (two
    statements, as engines such as Spark run one statement per call).
-#}
{% macro drop_deal_aggregation_state() -%}
    drop table if exists {{ deal_aggregation_state_relation() }}
{%- endmacro %}

{% macro save_deal_aggregation_state(deals_relation, time_zone) -%}
    {%- set state = deal_aggregation_state_relation() -%}
    create table {{ state }} as
    with contributions as (
        {{ deal_contributions_sql(deals_relation, time_zone) }}
    )
    select
        deal_crm_id,
        account_id,
        deal_date,
        deal_size,
        cast('{{ time_zone }}' as {{ dbt.type_string() }})
            as reporting_time_zone
    from contributions
{%- endmacro %}
