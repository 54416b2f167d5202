{#-
    Every deal with a known updated_at (all fates), with what the sales
    marts need: owner and pipeline names, stage category, numeric
    probability, when it entered its stage, its close date. Read by the
    snapshot deals_snapshot (which versions it) and by the mart
    deals_enhanced. A deal without updated_at cannot be versioned; it is
    rejected anyway (missing:updated_at or invalid:updated_at).
-#}
with

deals as (
    select * from {{ ref('int_deals_orphans_flagged') }}
),

owners as (
    select * from {{ ref('stg_freshsales__owners') }}
),

pipelines as (
    select * from {{ ref('stg_freshsales__deal_pipelines') }}
),

stage_categories as (
    select * from {{ ref('map_stage_category') }}
),

-- The category of each stage label and forecast type the deals use,
-- normalized once per distinct value rather than once per deal (the two
-- joins cost 6.6 s of CPU per 10,000,000 deals, and the snapshot,
-- deals_enhanced and this model's test each ran them). They read the table
-- itself: a third reference to the CTE `deals` made DuckDB materialize it.
{%- for cte, column in [('by_stage', 'deal_stage'),
                        ('by_forecast_type', 'stage_forecast_type')] %}
{{ cte }} as (
    select
        labels.{{ column }},
        stage_categories.canonical_label
    from (
        select distinct {{ column }}
        from {{ ref('int_deals_orphans_flagged') }}
    ) as labels
    inner join stage_categories
        on
            {{ normalize_label('labels.' ~ column) }}
            = stage_categories.raw_label
),
{% endfor %}
joined as (
    select
        deals.id,
        deals.deal_id,
        deals.deal_name,
        deals.account_id,
        deals.owner_id,
        {{ owner_name('deals.owner_id', 'owners') }} as owner_name,
        deals.deal_pipeline_id,
        case
            when deals.deal_pipeline_id is null then 'No pipeline'
            when pipelines.id is null
                then
                    'Unknown pipeline '
                    || cast(deals.deal_pipeline_id as {{ dbt.type_string() }})
            else coalesce(pipelines.display_name, 'Unnamed pipeline')
        end as pipeline_name,
        deals.deal_stage_id,
        deals.deal_stage,
        -- the stage the marts show decides, so a stage is in one category
        -- (under `original` the label and the stage id may disagree)
        coalesce(
            by_stage.canonical_label, by_forecast_type.canonical_label
        ) as stage_category,
        deals.probability_of_closure,
        {{ crm_try_cast(
            "trim(replace(deals.probability_of_closure, '%', ''))", 'money'
        ) }} as probability_number,
        deals.deal_size,
        deals.currency_code,
        deals.deal_size_base,
        deals.base_currency_code,
        deals.expected_close_date,
        deals.closed_date,
        deals.stage_updated_at,
        coalesce(deals.stage_updated_at, deals.created_at) as stage_entered_at,
        deals.created_at,
        deals.updated_at,
        deals.record_status
    from deals
    left join owners
        on deals.owner_id = owners.id
    left join pipelines
        on deals.deal_pipeline_id = pipelines.id
    left join by_forecast_type
        on deals.stage_forecast_type = by_forecast_type.stage_forecast_type
    left join by_stage
        on deals.deal_stage = by_stage.deal_stage
    where deals.updated_at is not null
),

final as (
    select
        id,
        deal_id,
        deal_name,
        account_id,
        owner_id,
        owner_name,
        deal_pipeline_id,
        pipeline_name,
        deal_stage_id,
        deal_stage,
        stage_category,
        cast(
            case
                when probability_number between 0 and 100
                    then probability_number
            end as {{ percent_type() }}
        ) as probability_percent,
        deal_size,
        currency_code,
        deal_size_base,
        base_currency_code,
        expected_close_date,
        closed_date,
        {{ deal_close_date('stage_category', 'closed_date',
            'stage_entered_at') }} as close_date,
        stage_updated_at,
        stage_entered_at,
        created_at,
        updated_at,
        record_status
    from joined
)

select * from final
