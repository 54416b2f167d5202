with

source as (
    select * from {{ source('freshsales', 'deal_stages') }}
),

renamed as (
    select
        source.id,
        {{ clean_text('source.name') }} as display_name,
        source.position as list_position,
        {{ clean_text('source.forecast_type') }} as forecast_type,
        source.deal_pipeline_id,
        source.probability
    from source
)

select * from renamed
