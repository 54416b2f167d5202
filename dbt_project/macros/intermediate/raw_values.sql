{#-
    raw_values_json(entity): the record's values as the CRM sent them (the
    columns a rejection is about), as JSON text, for rejected_records.
    Called where the final reason is known, under `case when rejection_reason
    is not null`: DuckDB then builds the text for the rejected rows only.
    Built in staging for every row it cost half of the intermediate models'
    time at 1,000,000 deals (make bench). The columns are staging's, carried
    by name through the intermediate models.
-#}
{% macro raw_values_json(entity) -%}
    {%- set text = dbt.type_string() -%}
    {%- set pairs = {
        'sales_accounts': [
            ('account_id', 'account_id_text'),
            ('account_name', 'account_name'),
            ('industry', 'industry'),
            ('account_value', 'account_value_text'),
            ('region', 'region_label'),
        ],
        'contacts': [
            ('contact_id', 'contact_id'),
            ('first_name', 'first_name'),
            ('last_name', 'last_name'),
            ('email', 'email'),
            ('lead_source', 'lead_source_label'),
            ('last_contact_date', 'last_contact_date_text'),
        ],
        'deals': [
            ('deal_id', 'deal_id_text'),
            ('deal_name', 'deal_name'),
            ('deal_size', 'deal_size_text'),
            ('probability_of_closure', 'probability_of_closure'),
            ('deal_stage', 'deal_stage_label'),
            ('account_id', 'account_id_text'),
            ('currency_id', 'cast(currency_id as ' ~ text ~ ')'),
        ],
        'leads': [
            ('first_name', 'first_name'),
            ('last_name', 'last_name'),
            ('email', 'email'),
            ('lead_source', 'lead_source_label'),
        ],
        'tasks': [
            ('id', 'cast(id as ' ~ text ~ ')'),
            ('title', 'title'),
            ('status', 'status_label'),
            ('target_type', 'target_type_label'),
            ('target_id', 'cast(target_crm_id as ' ~ text ~ ')'),
            ('owner_id', 'cast(owner_id as ' ~ text ~ ')'),
        ],
        'appointments': [
            ('id', 'cast(id as ' ~ text ~ ')'),
            ('title', 'title'),
            ('target_type', 'target_type_label'),
            ('target_id', 'cast(target_crm_id as ' ~ text ~ ')'),
            ('owner_id', 'cast(owner_id as ' ~ text ~ ')'),
        ],
        'sales_activities': [
            ('id', 'cast(id as ' ~ text ~ ')'),
            ('title', 'title'),
            ('sales_activity_type_id',
                'cast(sales_activity_type_id as ' ~ text ~ ')'),
            ('target_type', 'target_type_label'),
            ('target_id', 'cast(target_crm_id as ' ~ text ~ ')'),
            ('owner_id', 'cast(owner_id as ' ~ text ~ ')'),
        ],
    } -%}
    {{ json_text_object(pairs[entity]) }}
{%- endmacro %}
