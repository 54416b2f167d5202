with

versions as (
    select * from {{ ref('int_deal_versions') }}
),

visits as (
    select
        deal_crm_id,
        visit_number,
        min(effective_from) as entered_at,
        -- open while the visit's last version has no end
        case
            when count(effective_to) = count(*) then max(effective_to)
        end as left_at
    from versions
    group by deal_crm_id, visit_number
),

-- a visit's stage, pipeline and category: those of its first version
visit_stages as (
    select
        deal_crm_id,
        visit_number,
        deal_pipeline_id,
        deal_stage,
        stage_category
    from versions
    where starts_visit
),

final as (
    select
        visits.deal_crm_id,
        cast(visits.visit_number as integer) as visit_number,
        visit_stages.deal_pipeline_id,
        cast(visit_stages.deal_stage as {{ varchar_type() }}) as deal_stage,
        cast(visit_stages.stage_category as {{ varchar_type() }})
            as stage_category,
        visits.entered_at,
        visits.left_at,
        visits.left_at is null as is_current,
        cast(
            {{ dbt.datediff(
                local_date('visits.entered_at'),
                'coalesce(' ~ local_date('visits.left_at') ~ ', '
                ~ as_of_date() ~ ')',
                'day') }} as integer
        ) as days_in_stage
    from visits
    inner join visit_stages
        on
            visits.deal_crm_id = visit_stages.deal_crm_id
            and visits.visit_number = visit_stages.visit_number
)

select * from final
