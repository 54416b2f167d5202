with

source as (
    select * from {{ source('freshsales', 'deal_pipelines') }}
),

renamed as (
    select
        source.id,
        {{ clean_text('source.name') }} as display_name,
        source.position as list_position,
        source.is_default
    from source
)

select * from renamed
