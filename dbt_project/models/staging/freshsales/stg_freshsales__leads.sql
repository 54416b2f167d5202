{#- Leads (raw.leads). A tenant without the leads module has no raw.leads
    (or an empty one): the model is then empty, with its columns. -#}
with

source as (
    {{ raw_relation_or_empty(source('freshsales', 'leads'), [
        ('id', dbt.type_bigint()),
        ('is_deleted', dbt.type_boolean()),
        ('first_name', dbt.type_string()),
        ('last_name', dbt.type_string()),
        ('email', dbt.type_string()),
        ('job_title', dbt.type_string()),
        ('company', dbt.type_string()),
        ('city', dbt.type_string()),
        ('country', dbt.type_string()),
        ('lead_source_id', dbt.type_bigint()),
        ('lead_stage_id', dbt.type_bigint()),
        ('owner_id', dbt.type_bigint()),
        ('lead_score', dbt.type_bigint()),
        ('created_at', instant_type()),
        ('updated_at', instant_type()),
        ('_extracted_at', instant_type()),
    ]) }}
),

lead_sources as (
    select * from {{ ref('base_freshsales__lead_sources') }}
),

lead_stages as (
    select * from {{ ref('base_freshsales__lead_stages') }}
),

renamed as (
    select
        source.id,
        coalesce(source.is_deleted, false) as is_deleted,
        {{ clean_text('source.first_name') }} as first_name,
        {{ clean_text('source.last_name') }} as last_name,
        lower({{ clean_text('source.email') }}) as email,
        {{ clean_text('source.job_title') }} as job_title,
        {{ clean_text(json_text_field('source.company', 'name')) }}
            as company_name,
        {{ clean_text('source.city') }} as city,
        {{ clean_text('source.country') }} as country,
        lead_sources.display_name as lead_source_label,
        source.lead_stage_id,
        lead_stages.display_name as lead_stage,
        source.owner_id,
        source.lead_score,
        {{ to_utc_naive('source.created_at') }} as created_at,
        {{ to_utc_naive('source.updated_at') }} as updated_at,
        source._extracted_at as extracted_at
    from source
    left join lead_sources
        on source.lead_source_id = lead_sources.id
    left join lead_stages
        on source.lead_stage_id = lead_stages.id
),

final as (
    select
        id,
        first_name,
        last_name,
        email,
        job_title,
        company_name,
        city,
        country,
        lead_source_label,
        lead_stage_id,
        lead_stage,
        owner_id,
        lead_score,
        created_at,
        updated_at,
        is_deleted,
        email as business_key,
        extracted_at
    from renamed
)

select * from final
