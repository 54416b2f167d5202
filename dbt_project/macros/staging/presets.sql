{#-
    The preset map (var `crm_presets`, chosen by var `crm_preset`) names the
    raw field behind every canonical column, and for ids that name a label
    the selector table that resolves them (docs/contract.md section 6).
-#}
{% macro preset_entry(entity, column) -%}
    {%- set preset_name = var('crm_preset') -%}
    {%- set presets = var('crm_presets') -%}
    {%- if preset_name not in presets -%}
        {{ exceptions.raise_compiler_error(
            "crm_preset '" ~ preset_name ~ "' is not one of "
            ~ presets.keys() | list | join(', ')) }}
    {%- endif -%}
    {%- set entry = presets[preset_name].get(entity, {}).get(column) -%}
    {%- if entry is none or 'field' not in entry -%}
        {{ exceptions.raise_compiler_error(
            "crm_presets." ~ preset_name ~ "." ~ entity ~ "." ~ column
            ~ " needs a `field`") }}
    {%- endif -%}
    {{ return(entry) }}
{%- endmacro %}

{#-
    preset_text(entity, column, source_alias): the raw value behind a
    canonical column as trimmed text (NULL when empty). A selector column
    yields the label of the selector entry its id points at (the selector's
    staging model has trimmed it already).
-#}
{% macro preset_text(entity, column, source_alias='source') -%}
    {%- set entry = preset_entry(entity, column) -%}
    {%- if entry.get('selector') -%}
        {{ _selector_alias(column) }}.display_name
    {%- else -%}
        {{ clean_text('cast(' ~ source_alias ~ '.' ~ entry.field
            ~ ' as ' ~ dbt.type_string() ~ ')') }}
    {%- endif -%}
{%- endmacro %}

{#-
    preset_selector_joins(entity, selectors, source_alias): one left join
    per selector column of the entity under the preset. `selectors` maps a
    selector table to the relation of its staging model; each entity model
    refs every selector staging model any preset may join, unconditionally,
    so the DAG is the same under every preset.
-#}
{% macro preset_selector_joins(entity, selectors, source_alias='source') -%}
    {%- set preset = var('crm_presets')[var('crm_preset')][entity] -%}
    {%- for column, entry in preset.items() if entry.get('selector') %}
    {%- if entry.selector not in selectors %}
    {{- exceptions.raise_compiler_error(
        "crm_presets." ~ var('crm_preset') ~ "." ~ entity ~ "." ~ column
        ~ " reads selector `" ~ entry.selector ~ "`, which the staging model"
        ~ " of " ~ entity ~ " does not ref (it refs "
        ~ selectors.keys() | list | join(', ') ~ ")") }}
    {%- endif %}
    left join {{ selectors[entry.selector] }}
        as {{ _selector_alias(column) }}
        on {{ source_alias }}.{{ entry.field }} = {{ _selector_alias(column) }}.id
    {%- endfor %}
{%- endmacro %}

{% macro _selector_alias(column) -%}
    selector_{{ column }}
{%- endmacro %}

{#-
    raw_columns_of(relation): the raw table's columns, read once per model
    (one metadata query) and handed to the macros below. Empty while dbt
    parses.
-#}
{% macro raw_columns_of(relation) -%}
    {%- if execute -%}
        {{ return(adapter.get_columns_in_relation(relation)) }}
    {%- endif -%}
    {{ return([]) }}
{%- endmacro %}

{#-
    preset_variant_filled(entity, column, raw_columns, source_alias): TRUE
    when dlt put the value of the column's field into a variant column
    (`amount__v_text`) because its type clashed with the declared one; such a
    record is uncastable. FALSE when no variant column exists.
-#}
{% macro preset_variant_filled(entity, column, raw_columns,
        source_alias='source') -%}
    {%- set entry = preset_entry(entity, column) -%}
    {%- set variants = [] -%}
    {%- if not entry.get('selector') -%}
        {%- for col in raw_columns -%}
            {%- if (col.name | lower).startswith(
                    entry.field | lower ~ '__v_') -%}
                {%- do variants.append(col.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if variants -%}
        ({%- for name in variants -%}
            {{ source_alias }}.{{ adapter.quote(name) }} is not null
            {%- if not loop.last %} or {% endif -%}
        {%- endfor -%})
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}

{#-
    Timestamps. When the raw column behind a timestamp column already has a
    time-zone-aware type (the extractor declares created_at and updated_at
    as timestamptz), it is converted to naive UTC directly: formatting it as
    text and parsing it back cost 0.6 s per column per 1,000,000 rows. A
    text field (a custom field, a tenant whose column arrived as text) takes
    the text path of crm_try_cast, where a bad value becomes invalid.

    preset_timestamp_columns(entity, column, raw_columns): `<column>_text` and
    `<column>_typed` for the `renamed` step; preset_timestamp_cast(entity,
    column, raw_columns): the naive UTC timestamp for the `casted` step.
-#}
{% macro preset_has_typed_timestamp(entity, column, raw_columns) -%}
    {%- set entry = preset_entry(entity, column) -%}
    {%- set aware = ['timestamp with time zone', 'timestamptz'] -%}
    {%- if target.type == 'spark' -%}
        {%- do aware.append('timestamp') -%}
    {%- endif -%}
    {%- if not entry.get('selector') -%}
        {%- for col in raw_columns
                if col.name | lower == entry.field | lower
                and col.dtype | lower in aware -%}
            {{ return(true) }}
        {%- endfor -%}
    {%- endif -%}
    {{ return(false) }}
{%- endmacro %}

{% macro preset_timestamp_columns(entity, column, raw_columns,
        source_alias='source') -%}
    {%- if preset_has_typed_timestamp(entity, column, raw_columns) -%}
        cast(null as {{ dbt.type_string() }}) as {{ column }}_text,
        {{ source_alias }}.{{ preset_entry(entity, column).field }}
            as {{ column }}_typed
    {%- else -%}
        {{ preset_text(entity, column, source_alias) }} as {{ column }}_text
    {%- endif -%}
{%- endmacro %}

{% macro preset_timestamp_cast(entity, column, raw_columns) -%}
    {%- if preset_has_typed_timestamp(entity, column, raw_columns) -%}
        {{ to_utc_naive(column ~ '_typed') }}
    {%- else -%}
        {{ crm_try_cast(column ~ '_text', 'timestamp') }}
    {%- endif -%}
{%- endmacro %}
