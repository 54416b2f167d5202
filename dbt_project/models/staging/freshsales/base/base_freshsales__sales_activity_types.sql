{{ named_list_staging('sales_activity_types', optional=true) }}
