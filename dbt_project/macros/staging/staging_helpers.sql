{#-
    is_invalid(column): TRUE when the column's raw text was present but did
    not cast, or dlt kept the value in a variant column because its type
    clashed (`amount__v_text`). Expects `<column>`, `<column>_text` and
    `<column>_is_variant`.
-#}
{% macro is_invalid(column) -%}
    ({{ column }}_is_variant
        or ({{ column }}_text is not null and {{ column }} is null))
{%- endmacro %}

{#-
    named_list_staging(source_table, optional): the staging select of a
    selector list that is only (id, name, position): territories, industry
    types, lead sources, teams, task types, ... Renames and cleans, nothing
    else. `optional`: the raw table may be absent (a list read with the
    issue-13 objects, which a run may not select): the model is then empty.
-#}
{% macro named_list_staging(source_table, optional=false) -%}
with

source as (
    {%- if optional %}
    {{ raw_relation_or_empty(source('freshsales', source_table), [
        ('id', dbt.type_bigint()),
        ('name', dbt.type_string()),
        ('position', dbt.type_bigint()),
    ]) }}
    {%- else %}
    select * from {{ source('freshsales', source_table) }}
    {%- endif %}
),

renamed as (
    select
        source.id,
        {{ clean_text('source.name') }} as display_name,
        source.position as list_position
    from source
)

select * from renamed
{%- endmacro %}

{#-
    raw_timestamp_or_null(raw_columns, field, source_alias): a raw column
    outside the preset map (same field under every preset) as a naive UTC
    timestamp: converted directly when the extractor declared it
    time-zone-aware, parsed with crm_try_cast when it arrived as text (a
    value that does not parse becomes NULL), NULL when the raw table has no
    such column (a CRM that never sent it; the extractor does not declare
    it). Used for `stage_updated_time`.
-#}
{% macro raw_timestamp_or_null(raw_columns, field, source_alias='source') -%}
    {%- set aware = ['timestamp with time zone', 'timestamptz'] -%}
    {%- if target.type == 'spark' -%}
        {%- do aware.append('timestamp') -%}
    {%- endif -%}
    {%- set found = [] -%}
    {%- for col in raw_columns if col.name | lower == field | lower -%}
        {%- do found.append(col.dtype | lower) -%}
    {%- endfor -%}
    {%- if not found -%}
        cast(null as {{ dbt.type_timestamp() }})
    {%- elif found[0] in aware -%}
        {{ to_utc_naive(source_alias ~ '.' ~ field) }}
    {%- else -%}
        {{ crm_try_cast(clean_text('cast(' ~ source_alias ~ '.' ~ field
            ~ ' as ' ~ dbt.type_string() ~ ')'), 'timestamp') }}
    {%- endif -%}
{%- endmacro %}
