with

deals as (
    select * from {{ ref('int_deals_orphans_flagged') }}
),

final as (
    select
        id,
        deal_id,
        cast(deal_name as {{ varchar_type() }}) as deal_name,
        deal_size,
        cast(probability_of_closure as {{ varchar_type() }})
            as probability_of_closure,
        cast(deal_stage as {{ varchar_type() }}) as deal_stage,
        account_id,
        created_at,
        updated_at,
        owner_id,
        cast(currency_code as {{ varchar_type() }}) as currency_code,
        deal_size_base,
        cast(base_currency_code as {{ varchar_type() }}) as base_currency_code
    from deals
    where record_status = 'kept'
)

select * from final
