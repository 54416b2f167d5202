with

leads as (
    select * from {{ ref('int_leads_deduplicated') }}
),

final as (
    select
        id,
        cast(first_name as {{ varchar_type() }}) as first_name,
        cast(last_name as {{ varchar_type() }}) as last_name,
        cast(email as {{ varchar_type() }}) as email,
        cast(job_title as {{ varchar_type() }}) as job_title,
        cast(company_name as {{ varchar_type() }}) as company_name,
        cast(city as {{ varchar_type() }}) as city,
        cast(country as {{ varchar_type() }}) as country,
        cast(lead_source as {{ varchar_type() }}) as lead_source,
        cast(lead_stage as {{ varchar_type() }}) as lead_stage,
        cast(lead_score as integer) as lead_score,
        owner_id,
        created_at,
        updated_at
    from leads
    where record_status = 'kept'
)

select * from final
