{{ named_list_staging('task_types', optional=true) }}
