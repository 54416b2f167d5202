with

source as (
    select * from {{ source('freshsales', 'territories') }}
),

renamed as (
    select
        source.id,
        {{ clean_text('source.name') }} as display_name,
        source.position as list_position
    from source
)

select * from renamed
