{{ config(materialized='table') }}  {#- read by marts and tests: see its YAML -#}

{#-
    A deal whose account is not in the accounts mart (never existed, deleted
    or rejected for any reason) is rejected as `orphan`, the last reason in
    the precedence.
-#}
with

deals as (
    select * from {{ ref('int_deals_deduplicated') }}
),

kept_accounts as (
    select account_id
    from {{ ref('int_accounts_deduplicated') }}
    where record_status = 'kept'
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
            when
                deals.record_status = 'kept'
                and kept_accounts.account_id is null
                then 'orphan'
            else deals.rejection_reason
        end as rejection_reason
    from deals
    left join kept_accounts
        on deals.account_id = kept_accounts.account_id
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
        case
            when rejection_reason is not null
                then {{ raw_values_json('deals') }}
        end as raw_values,
        rejection_reason,
        {{ record_status('rejection_reason') }} as record_status
    from reasoned
)

select * from final
