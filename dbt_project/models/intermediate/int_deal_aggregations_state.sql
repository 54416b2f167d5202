{#-
    What each deal contributed to deal_aggregations at its last build. The
    rows are written by deal_aggregations' post-hooks, in the same
    transaction as its delete+insert (see the model's description); this
    model only declares the table (materialization `declared_table`: created
    empty when absent), so it is in the DAG, the docs and the tests.
-#}
{{ config(materialized='declared_table') }}

with

deals as (
    select * from {{ ref('deals') }}
),

final as (
    {{ deal_aggregation_state_sql('deals', var('reporting_time_zone')) }}
)

select * from final
