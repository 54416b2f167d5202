{#-
    Rejection rules shared by the intermediate models (docs/contract.md 5).
    A record gets one reason, the first in this precedence: deleted (not a
    rejection: counted), missing:<column>, invalid:<column>,
    unmapped:<column>, no_exchange_rate (deals), duplicate_of:<id>, orphan.
-#}

{#-
    No version ranking per CRM id here: raw holds one row per id (dlt merges
    on id; on Spark the raw view keeps each id's last fetched version), and
    the unique_key test on each staging model fails the build before any
    intermediate model runs if it did not. The row_number() over all
    columns that used to guard this cost more than the rest of validation.
-#}

{#-
    validation_reason(required, cast_columns, labels, fields): the first of
    missing:<required column>, invalid:<cast column>, unmapped:<label column>.
    A cast column that failed is "invalid", not "missing". Labels are given
    as (canonical column, raw label column) pairs; `fields` maps a required
    name to the column whose NULL makes it missing when they differ (the
    manifest's `missing:owner` is a NULL `owner_id`).
-#}
{% macro validation_reason(required, cast_columns, labels, fields={}) -%}
    {%- set label_of = dict(labels) -%}
    {%- do label_of.update(fields) -%}
    case
        {%- for column in required %}
        when {{ label_of.get(column, column) }} is null
            {%- if column in cast_columns %}
            and not has_invalid_{{ column }}
            {%- endif %}
            then 'missing:{{ column }}'
        {%- endfor %}
        {%- for column in cast_columns %}
        when has_invalid_{{ column }} then 'invalid:{{ column }}'
        {%- endfor %}
        {%- for column, label_column in labels %}
        when {{ column }} is null and {{ label_column }} is not null
            then 'unmapped:{{ column }}'
        {%- endfor %}
    end
{%- endmacro %}

{#-
    Duplicate detection on a business key among the live, valid records:
    the most recently updated record is kept; ties go to the highest CRM id
    (the record created last), so the choice never depends on row order.
-#}
{% macro kept_id_for_key(key_column) -%}
    first_value(id) over (
        partition by {{ key_column }}
        order by updated_at desc, id desc
        rows between unbounded preceding and unbounded following
    )
{%- endmacro %}

{#-
    record_status(reason_column): the record's fate from its final reason:
    `deleted` (Recycle Bin), `rejected` (a reason) or `kept`.
-#}
{% macro record_status(reason_column='rejection_reason') -%}
    case
        when is_deleted then 'deleted'
        when {{ reason_column }} is not null then 'rejected'
        else 'kept'
    end
{%- endmacro %}
