with

records as (
    select * from {{ ref('int_records_classified') }}
),

final as (
    select
        cast(entity as {{ varchar_type() }}) as entity,
        crm_id,
        cast(business_key as {{ varchar_type() }}) as business_key,
        cast(rejection_reason as {{ varchar_type() }}) as reason,
        cast(raw_values as {{ varchar_type() }}) as raw_values
    from records
    where record_status = 'rejected'
)

select * from final
