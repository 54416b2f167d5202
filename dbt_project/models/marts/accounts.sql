with

accounts as (
    select * from {{ ref('int_accounts_deduplicated') }}
),

final as (
    select
        id,
        account_id,
        cast(account_name as {{ varchar_type() }}) as account_name,
        cast(industry as {{ varchar_type() }}) as industry,
        account_value,
        cast(region as {{ varchar_type() }}) as region,
        created_at,
        updated_at
    from accounts
    where record_status = 'kept'
)

select * from final
