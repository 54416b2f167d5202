{{ named_list_staging('territories') }}
