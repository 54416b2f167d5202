with

deals as (
    select * from {{ ref('int_deals_enriched') }}
),

dated as (
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
        probability_percent,
        deal_size,
        currency_code,
        deal_size_base,
        base_currency_code,
        expected_close_date,
        close_date,
        stage_entered_at,
        created_at,
        updated_at,
        {{ local_date('created_at') }} as created_date,
        {{ as_of_date() }} as as_of_date
    from deals
    where record_status = 'kept'
),

final as (
    select
        id,
        deal_id,
        cast(deal_name as {{ varchar_type() }}) as deal_name,
        account_id,
        owner_id,
        cast(owner_name as {{ varchar_type() }}) as owner_name,
        deal_pipeline_id,
        cast(pipeline_name as {{ varchar_type() }}) as pipeline_name,
        deal_stage_id,
        cast(deal_stage as {{ varchar_type() }}) as deal_stage,
        cast(stage_category as {{ varchar_type() }}) as stage_category,
        probability_percent,
        deal_size,
        cast(currency_code as {{ varchar_type() }}) as currency_code,
        deal_size_base,
        cast(base_currency_code as {{ varchar_type() }})
            as base_currency_code,
        expected_close_date,
        close_date,
        created_date,
        stage_entered_at,
        cast(
            {{ dbt.datediff('created_date',
                'coalesce(close_date, as_of_date)', 'day') }} as integer
        ) as age_days,
        cast(
            {{ dbt.datediff(
                'created_date', 'close_date', 'day'
            ) }} as integer
        ) as sales_cycle_days,
        created_at,
        updated_at
    from dated
)

select * from final
