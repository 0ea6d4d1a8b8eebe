// The product's contract for the 16 core streams (the product brief): each stream's cursor, or none for the five
// full-table streams. More streams come on top of them; none of these may be weakened. This is written here, apart
// from the stream table, so that a change to the table that breaks the contract fails a test.
export const CORE_STREAMS: Readonly<Record<string, 'update_time' | 'modified' | null>> = {
  activities: 'update_time',
  activity_types: null,
  currencies: null,
  deals: 'update_time',
  email_messages: 'update_time',
  email_threads: 'update_time',
  files: 'update_time',
  filters: 'update_time',
  goals: null,
  notes: 'update_time',
  organizations: 'update_time',
  persons: 'update_time',
  pipelines: null,
  products: 'update_time',
  stages: null,
  users: 'modified',
};
