{#-
    unique + not_null on a model's key in one scan: the values that are NULL
    or occur more than once. On a view (staging, most of intermediate) each
    test re-runs the view's SQL, so one test instead of two halves that cost.
-#}
{% test unique_key(model, column_name) %}

select
    {{ column_name }},
    count(*) as occurrences
from {{ model }}
group by {{ column_name }}
having count(*) > 1 or {{ column_name }} is null

{% endtest %}
