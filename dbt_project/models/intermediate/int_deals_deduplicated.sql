with

deals as (
    select * from {{ ref('int_deals_validated') }}
),

-- Only live, valid records compete for a business key.
candidates as (
    select
        id,
        {{ kept_id_for_key('deal_id') }} as kept_id
    from deals
    where not is_deleted and validation_reason is null
),

reasoned as (
    select
        deals.id,
        deals.deal_id,
        deals.deal_name,
        deals.deal_size,
        deals.deal_size_base,
        deals.currency_code,
        deals.base_currency_code,
        deals.probability_of_closure,
        deals.deal_stage,
        deals.account_id,
        deals.deal_stage_id,
        deals.stage_forecast_type,
        deals.deal_pipeline_id,
        deals.owner_id,
        deals.expected_close_date,
        deals.closed_date,
        deals.stage_updated_at,
        deals.created_at,
        deals.updated_at,

        deals.is_deleted,
        deals.business_key,
        deals.deal_id_text,
        deals.deal_size_text,
        deals.deal_stage_label,
        deals.account_id_text,
        deals.currency_id,
        case
            when deals.is_deleted then null
            when deals.validation_reason is not null
                then deals.validation_reason
            when candidates.kept_id <> deals.id
                then
                    'duplicate_of:'
                    || cast(candidates.kept_id as {{ dbt.type_string() }})
        end as rejection_reason
    from deals
    left join candidates
        on deals.id = candidates.id
),

final as (
    select
        id,
        deal_id,
        deal_name,
        deal_size,
        deal_size_base,
        currency_code,
        base_currency_code,
        probability_of_closure,
        deal_stage,
        account_id,
        deal_stage_id,
        stage_forecast_type,
        deal_pipeline_id,
        owner_id,
        expected_close_date,
        closed_date,
        stage_updated_at,
        created_at,
        updated_at,

        is_deleted,
        business_key,
        deal_id_text,
        deal_size_text,
        deal_stage_label,
        account_id_text,
        currency_id,
        rejection_reason,
        {{ record_status('rejection_reason') }} as record_status
    from reasoned
)

select * from final
