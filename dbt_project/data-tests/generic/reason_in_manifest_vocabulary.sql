{#- Rows whose reason is not in the dirt manifest's vocabulary (plus
    `no_exchange_rate`, the reason of the manifest's `unknown_currency`). -#}
{% test reason_in_manifest_vocabulary(model, column_name) %}

select {{ column_name }}
from {{ model }}
where not (
    {{ column_name }} = 'orphan'
    or {{ column_name }} = 'no_exchange_rate'
    or {{ column_name }} like 'missing:%'
    or {{ column_name }} like 'invalid:%'
    or {{ column_name }} like 'unmapped:%'
    or {{ column_name }} like 'duplicate_of:%'
)

{% endtest %}
