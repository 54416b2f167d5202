{#- Appointments (raw.appointments): like tasks, no Recycle Bin. -#}
with

source as (
    {{ raw_relation_or_empty(source('freshsales', 'appointments'), [
        ('id', dbt.type_bigint()),
        ('is_deleted', dbt.type_boolean()),
        ('title', dbt.type_string()),
        ('description', dbt.type_string()),
        ('from_date', instant_type()),
        ('end_date', instant_type()),
        ('time_zone', dbt.type_string()),
        ('location', dbt.type_string()),
        ('is_allday', dbt.type_boolean()),
        ('targetable_type', dbt.type_string()),
        ('targetable_id', dbt.type_bigint()),
        ('owner_id', dbt.type_bigint()),
        ('creater_id', dbt.type_bigint()),
        ('outcome_id', dbt.type_bigint()),
        ('created_at', instant_type()),
        ('updated_at', instant_type()),
        ('_extracted_at', instant_type()),
    ]) }}
),

outcomes as (
    select * from {{ ref('base_freshsales__sales_activity_outcomes') }}
),

renamed as (
    select
        source.id,
        coalesce(source.is_deleted, false) as is_deleted,
        {{ clean_text('source.title') }} as title,
        {{ clean_text('source.description') }} as description,
        {{ to_utc_naive('source.from_date') }} as starts_at,
        {{ to_utc_naive('source.end_date') }} as ends_at,
        {{ clean_text('source.time_zone') }} as time_zone,
        {{ clean_text('source.location') }} as location,  -- noqa: RF04
        coalesce(source.is_allday, false) as is_all_day,
        {{ clean_text('source.targetable_type') }} as target_type_label,
        source.targetable_id as target_crm_id,
        source.owner_id,
        source.creater_id as creator_id,
        source.outcome_id,
        outcomes.display_name as outcome,
        {{ to_utc_naive('source.created_at') }} as created_at,
        {{ to_utc_naive('source.updated_at') }} as updated_at,
        source._extracted_at as extracted_at
    from source
    left join outcomes
        on source.outcome_id = outcomes.id
),

final as (
    select
        id,
        title,
        description,
        starts_at,
        ends_at,
        time_zone,
        location,
        is_all_day,
        target_type_label,
        target_crm_id,
        owner_id,
        creator_id,
        outcome_id,
        outcome,
        created_at,
        updated_at,
        is_deleted,
        cast(id as {{ dbt.type_string() }}) as business_key,
        extracted_at
    from renamed
)

select * from final
