// A deterministic Pipedrive company: every record is built from Pipedrive's official example record of its endpoint
// (fixtures/examples.json, extracted from the OpenAPI documents) with values drawn from a seeded PRNG.
import { readFileSync } from 'node:fs';
import {
  CITIES,
  COMPANY_SUFFIXES,
  COMPANY_WORDS,
  DEAL_WORDS,
  FIRST_NAMES,
  LAST_NAMES,
  Random,
  hash,
} from './random.js';
import { CompanyClock } from './clock.js';
import {
  expectedColumn,
  expectedValues,
  initialFields,
  v1Definition,
  v1Values,
  v2Value,
  type FieldEntity,
  type SimField,
} from './fields.js';
import { Table, type EntitySpec } from './table.js';

type Json = Record<string, unknown>;
type Examples = Record<string, { data: unknown }>;
const examples = JSON.parse(readFileSync(new URL('./fixtures/examples.json', import.meta.url), 'utf8')) as Examples;
const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object') Object.values(Object.freeze(value)).forEach(deepFreeze);
  return value;
};
const templates = new Map<string, Json>();
/** The first example record of an endpoint, frozen: records spread it and replace what they change. */
const example = (endpoint: string): Json => {
  let template = templates.get(endpoint);
  if (!template) {
    const data = examples[endpoint]!.data as Json[] | { goals: Json[] };
    templates.set(endpoint, (template = deepFreeze(structuredClone(Array.isArray(data) ? data[0]! : data.goals[0]!))));
  }
  return template;
};

/** How many records of each entity (project phases: 3 to 6 per board, counted from the boards). */
export type Counts = Record<Exclude<EntityName, 'project_phases'>, number>;
/** The table whose records carry each entity's custom fields. */
const FIELD_CARRIERS: Record<FieldEntity, EntityName> = {
  deal: 'deals',
  person: 'persons',
  organization: 'organizations',
  product: 'products',
  activity: 'activities',
  note: 'notes',
  project: 'projects',
};
/** The entities of the first releases (the generated company's records of these must not change). */
type CoreEntity =
  | 'activities'
  | 'activity_types'
  | 'currencies'
  | 'deals'
  | 'email_threads'
  | 'files'
  | 'filters'
  | 'goals'
  | 'leads'
  | 'lead_labels'
  | 'lead_sources'
  | 'notes'
  | 'organizations'
  | 'persons'
  | 'pipelines'
  | 'products'
  | 'stages'
  | 'users';
export type EntityName =
  | CoreEntity
  | 'call_logs'
  | 'legacy_teams'
  | 'permission_sets'
  | 'projects'
  | 'project_boards'
  | 'project_phases'
  | 'project_templates'
  | 'roles'
  | 'tasks';

/** `small` is the demo and test account (several pages per big stream at page size 500); `large` is the benchmark's
 * half a million records. On top: mail messages (1 to 4 per thread), project phases (3 to 6 per board), and the lists
 * each record has (a deal's products, installments, participants and followers, …). */
export const SIZES: Record<'small' | 'medium' | 'large', Counts> = {
  small: {
    users: 8,
    activity_types: 12,
    currencies: 6,
    pipelines: 3,
    stages: 12,
    goals: 9,
    leads: 150,
    lead_labels: 3,
    lead_sources: 10,
    filters: 24,
    products: 60,
    organizations: 300,
    persons: 700,
    deals: 600,
    activities: 1200,
    notes: 700,
    files: 250,
    email_threads: 120,
    call_logs: 400,
    legacy_teams: 4,
    permission_sets: 8,
    projects: 300,
    project_boards: 4,
    project_templates: 12,
    roles: 5,
    tasks: 450,
  },
  medium: {
    users: 15,
    activity_types: 15,
    currencies: 8,
    pipelines: 4,
    stages: 20,
    goals: 20,
    leads: 1_500,
    lead_labels: 3,
    lead_sources: 10,
    filters: 60,
    products: 500,
    organizations: 4_000,
    persons: 10_000,
    deals: 8_000,
    activities: 20_000,
    notes: 8_000,
    files: 2_000,
    email_threads: 300,
    call_logs: 3_000,
    legacy_teams: 6,
    permission_sets: 8,
    projects: 2_000,
    project_boards: 8,
    project_templates: 30,
    roles: 8,
    tasks: 8_000,
  },
  large: {
    users: 40,
    activity_types: 20,
    currencies: 12,
    pipelines: 8,
    stages: 48,
    goals: 60,
    leads: 6_000,
    lead_labels: 3,
    lead_sources: 10,
    filters: 200,
    products: 5000,
    organizations: 40_000,
    persons: 110_000,
    deals: 90_000,
    activities: 160_000,
    notes: 80_000,
    files: 20_000,
    email_threads: 800,
    call_logs: 15_000,
    legacy_teams: 10,
    permission_sets: 8,
    projects: 10_000,
    project_boards: 20,
    project_templates: 60,
    roles: 12,
    tasks: 40_000,
  },
};

const SECOND = 1000;
const DAY = 86_400 * SECOND;
const HISTORY = 730 * DAY;
const toSecond = (ms: number) => Math.floor(ms / SECOND) * SECOND;
export const v1Time = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
export const v2Time = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;
const mailTime = (ms: number) => new Date(ms).toISOString();
const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** A UUID-shaped id (leads) from a hash and the index, which makes it unique. */
const uuid = (n: number, index: number) => {
  const hex = (n >>> 0).toString(16).padStart(8, '0').repeat(3);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${index.toString(16).padStart(12, '0')}`;
};

export type MutableStream = EntityName | 'email_messages';
/** Each entity's cursor field and the timestamp format of its API. */
const CURSORS: Partial<Record<MutableStream, { field: string; format: (ms: number) => string }>> = {
  activities: { field: 'update_time', format: v2Time },
  deals: { field: 'update_time', format: v2Time },
  organizations: { field: 'update_time', format: v2Time },
  persons: { field: 'update_time', format: v2Time },
  pipelines: { field: 'update_time', format: v2Time },
  products: { field: 'update_time', format: v2Time },
  stages: { field: 'update_time', format: v2Time },
  activity_types: { field: 'update_time', format: v1Time },
  files: { field: 'update_time', format: v1Time },
  filters: { field: 'update_time', format: v1Time },
  notes: { field: 'update_time', format: v1Time },
  users: { field: 'modified', format: v1Time },
  email_threads: { field: 'update_time', format: mailTime },
  leads: { field: 'update_time', format: mailTime },
  email_messages: { field: 'update_time', format: mailTime },
  projects: { field: 'update_time', format: v2Time },
  project_boards: { field: 'update_time', format: v2Time },
  project_phases: { field: 'update_time', format: v2Time },
  project_templates: { field: 'update_time', format: v2Time },
  tasks: { field: 'update_time', format: v2Time },
};

/** The counts of persons and organizations (v2 returns them only when `include_fields` names them). */
export const CONTACT_COUNTS = [
  'open_deals_count',
  'related_open_deals_count',
  'closed_deals_count',
  'related_closed_deals_count',
  'email_messages_count',
  'activities_count',
  'done_activities_count',
  'undone_activities_count',
  'files_count',
  'notes_count',
  'followers_count',
  'won_deals_count',
  'related_won_deals_count',
  'lost_deals_count',
  'related_lost_deals_count',
];
// In the order the records draw their values (the generated company must not change).
export const PERSON_COUNTS = [
  ...CONTACT_COUNTS.slice(0, 4),
  'participant_open_deals_count',
  'participant_closed_deals_count',
  ...CONTACT_COUNTS.slice(4),
];
export const ORGANIZATION_COUNTS = [...CONTACT_COUNTS.slice(0, 5), 'people_count', ...CONTACT_COUNTS.slice(5)];
export const DEAL_STATUSES = ['open', 'won', 'lost', 'deleted'] as const;
export const MAIL_FOLDERS = ['inbox', 'drafts', 'sent', 'archive'] as const;
/** Bit 0-1: deal status; bit 2: archived. */
export const ARCHIVED_BIT = 4;
/** A v1 record deleted (active_flag false): its list no longer returns it. */
export const DELETED_BIT = 8;
/** A project's status (facet bits 0-1; bit 2: archived). Deleted projects are listed only when asked for. */
export const PROJECT_STATUSES = ['open', 'completed', 'canceled', 'deleted'] as const;

/** The lists the simulator derives from another table's rows, one list per row (a deal's products, a role's
 * assignments), by the connector's stream name. */
export type ChildName =
  | 'deal_products'
  | 'deal_installments'
  | 'deal_participants'
  | 'deal_followers'
  | 'person_followers'
  | 'organization_followers'
  | 'product_followers'
  | 'product_variations'
  | 'deal_changelog'
  | 'person_changelog'
  | 'organization_changelog'
  | 'role_assignments'
  | 'permission_set_assignments';

/** How a child list is made: its parent table, its generated records for a parent row, the property naming the
 * parent (set on records a test gives), and whether its records have ids of their own (given one if they lack it). */
interface ChildList {
  parent: MutableStream;
  generate: (parent: number) => Json[];
  parentKey?: string;
  ownIds?: boolean;
}

/** Standard fields of leads, as /v1/leadFields lists them before the deal custom fields leads carry. */
const LEAD_STANDARD_FIELDS = [
  { key: 'title', name: 'Title', type: 'varchar' },
  { key: 'owner_id', name: 'Owner', type: 'user' },
  { key: 'value', name: 'Value', type: 'monetary' },
  { key: 'expected_close_date', name: 'Expected close date', type: 'date' },
  { key: 'person_id', name: 'Person', type: 'people' },
  { key: 'organization_id', name: 'Organization', type: 'org' },
  { key: 'label_ids', name: 'Labels', type: 'set' },
  { key: 'source_name', name: 'Source', type: 'varchar' },
  { key: 'visible_to', name: 'Visible to', type: 'visible_to' },
];

/** Permission sets: Pipedrive's five default ones (the documented example), and custom ones; `who` gets each. */
const PERMISSION_SETS: { who: 'admins' | 'users' | 'owner' | 'nobody'; set: Json }[] = [
  { who: 'admins', set: {} },
  { who: 'users', set: {} },
  { who: 'admins', set: {} },
  { who: 'users', set: {} },
  { who: 'owner', set: {} },
  {
    who: 'owner',
    set: {
      name: 'Projects admin',
      description: 'See and edit all projects, boards and templates',
      app: 'projects',
      type: 'admin',
    },
  },
  {
    who: 'nobody',
    set: { name: 'Campaigns manager', description: 'Create and send campaigns', app: 'campaigns', type: 'manager' },
  },
  {
    who: 'nobody',
    set: { name: 'Partner access', description: 'Read-only access for partners', app: 'partnership', type: 'custom' },
  },
];
const ROLE_NAMES = ['(Unassigned users)', 'Admins', 'Sales managers', 'Account executives', 'Support', 'Partners'];
/** A role's parent (roles 1 and 2 are at the top). */
const parentRole = (role: number): number | null => (role <= 2 ? null : role === 4 ? 3 : 2);

export interface DatasetOptions {
  seed?: number;
  /** Epoch ms of "now" when the company starts: records were added and updated in the two years before it, and the
   * company's clock starts there. Default: the start of the machine's current day (for trying things by hand). */
  anchor?: number;
  size?: 'small' | 'medium' | 'large' | Partial<Counts>;
}

export class Dataset {
  readonly seed: number;
  readonly anchor: number;
  /** The company's clock: starts at the anchor; every change is stamped with its time unless a test says otherwise. */
  readonly clock: CompanyClock;
  readonly counts: Counts;
  readonly tables: Record<MutableStream, Table<Json>>;
  /** Each entity's custom fields, as its field definitions list them (tests add and rename fields). */
  readonly fields: Record<FieldEntity, SimField[]>;
  /** messageOffsets[t] = index of thread t's first message (threads own consecutive message indexes). */
  private readonly messageOffsets: number[];
  /** phaseOffsets[b] = index of board b's first phase (boards own consecutive phase indexes). */
  private readonly phaseOffsets: number[];
  /** The lists derived from another table's rows, by stream name. */
  private readonly children: Record<ChildName, ChildList>;
  /** Child lists a test set (setChildren): stream → parent row → its records. */
  private readonly childOverrides = new Map<ChildName, Map<number, Json[]>>();
  /** Ids given to child records a test adds without one (above every generated id). */
  private nextChildId = 900_000_001;

  constructor(options: DatasetOptions = {}) {
    this.seed = options.seed ?? 42;
    this.anchor = toSecond(options.anchor ?? Math.floor(Date.now() / DAY) * DAY);
    this.clock = new CompanyClock(this.anchor);
    const size = options.size ?? 'small';
    this.counts = typeof size === 'string' ? SIZES[size] : { ...SIZES.small, ...size };
    this.fields = {
      deal: initialFields(this.seed, 'deal'),
      person: initialFields(this.seed, 'person'),
      organization: initialFields(this.seed, 'organization'),
      product: initialFields(this.seed, 'product'),
      activity: initialFields(this.seed, 'activity'),
      note: initialFields(this.seed, 'note'),
      project: initialFields(this.seed, 'project'),
    };
    this.messageOffsets = [0, 1];
    for (let thread = 1; thread <= this.counts.email_threads; thread++) {
      this.messageOffsets.push(this.messageOffsets[thread]! + this.messagesPerThread(thread));
    }
    this.phaseOffsets = [0, 1];
    for (let board = 1; board <= this.counts.project_boards; board++) {
      this.phaseOffsets.push(this.phaseOffsets[board]! + 3 + (hash(this.seed, 'board-phases', board) % 4));
    }
    this.children = this.childLists();
    const specs = this.specs();
    this.tables = Object.fromEntries(
      Object.entries(specs).map(([name, spec]) => [name, new Table(name, spec as EntitySpec<Json>)]),
    ) as Dataset['tables'];
  }

  /** The table of a stream, by the stream's name (the connector's streams and the simulator's tables share names). */
  table(stream: string): Table<Json> {
    if (!(stream in this.tables)) throw new Error(`the simulator has no table ${stream}`);
    return this.tables[stream as MutableStream];
  }

  /** A few records of a stream of the connector's table, as the simulator serves them (a child's: of its first
   * parents): what tells a test that the stream has simulated data. */
  sampleOf(stream: string): Json[] {
    const first = (table: Table<Json>, n: number) => [...table.order('index').slice(0, n)];
    const child = this.childList(stream);
    if (child) return first(this.tables[child.parent], 20).flatMap((parent) => this.childRecords(stream, parent));
    const table = this.table(stream);
    return first(table, 3).flatMap((index): Json[] => {
      const record = table.get(index);
      return record ? [record] : [];
    });
  }

  /** The table whose rows a child list belongs to (`deal_installments`: `deals`), or undefined for a stream that is
   * not such a list. */
  parentTableOf(stream: string): MutableStream | undefined {
    return this.childList(stream)?.parent;
  }

  /** The records of a child list (`deal_installments`, `product_variations`, `deal_followers`, `role_assignments`,
   * …) of one parent, by the parent's id, as the simulator serves them; none if the parent does not exist. Copies:
   * the caller may change them. */
  childrenOf(stream: ChildName | (string & {}), parent: number | string): Json[] {
    const list = this.childList(stream);
    if (!list) throw new Error(`${stream} is not a list of another table's rows`);
    const index = this.findIndex(list.parent, parent);
    return index === undefined ? [] : this.childRecords(stream, index);
  }

  /** Every record the simulator holds for a stream: a table's rows (deleted ones too, until purged), or a child
   * list's records of every parent row, in the parents' order. */
  recordsOf(stream: string): Json[] {
    const child = this.childList(stream);
    if (child)
      return Array.from(this.tables[child.parent].order('index')).flatMap((parent) =>
        this.childRecords(stream, parent),
      );
    const table = this.table(stream);
    return Array.from(table.order('index'), (index) => table.get(index)!);
  }

  /**
   * Replaces the records of a parent's child list (a deal's installments, a product's variations, a record's
   * followers, …) and returns them. Each record gets the parent's id under the list's parent property, and, in lists
   * whose records have ids, an id of its own if it has none. The parent is touched at `at` (its update_time moves):
   * in Pipedrive, changing a deal's installments or products, a product's variations, or who follows a record is a
   * change of the deal, product or record; that is how the connector, which reads children only for parents changed
   * since its last sync, sees the change.
   */
  setChildren(stream: ChildName, parent: number | string, records: Json[], at = this.nowSecond()): Json[] {
    const list = this.children[stream];
    const index = this.findIndex(list.parent, parent);
    if (index === undefined) throw new Error(`${list.parent} ${parent} does not exist`);
    const parentId = this.tables[list.parent].get(index)!.id;
    const set = records.map((record) => ({
      ...record,
      ...(list.parentKey ? { [list.parentKey]: record[list.parentKey] ?? parentId } : {}),
      ...(list.ownIds ? { id: record.id ?? this.nextChildId++ } : {}),
    }));
    let overrides = this.childOverrides.get(stream);
    if (!overrides) this.childOverrides.set(stream, (overrides = new Map()));
    overrides.set(index, set);
    this.update(list.parent, index, {}, at);
    return structuredClone(set);
  }

  /** Replaces a deal's installments (`{amount, billing_date, description}`; ids given if missing) and touches the
   * deal: its update_time moves to `at`, as Pipedrive's does. */
  setInstallments(deal: number, installments: Json[], at = this.nowSecond()): Json[] {
    return this.setChildren('deal_installments', deal, installments, at);
  }

  /** Replaces a product's variations (`{name, prices}`; ids given if missing) and touches the product. */
  setVariations(product: number, variations: Json[], at = this.nowSecond()): Json[] {
    return this.setChildren('product_variations', product, variations, at);
  }

  /** Replaces who follows a deal, person, organization or product (user ids; followed since `at`) and touches it. */
  setFollowers(
    stream: 'deal_followers' | 'person_followers' | 'organization_followers' | 'product_followers',
    parent: number,
    users: number[],
    at = this.nowSecond(),
  ): Json[] {
    const since = new Map(this.childrenOf(stream, parent).map((f) => [f.user_id, f.add_time]));
    const followers = users.map((user) => ({ user_id: user, add_time: since.get(user) ?? v2Time(at) }));
    return this.setChildren(stream, parent, followers, at);
  }

  /** The field definitions /v1/leadFields lists: the leads' standard fields, then the deal custom fields (leads carry
   * the deals' fields, under the same keys). */
  leadFields(): Json[] {
    const template = example('/v1/leadFields');
    const time = v1Time(this.anchor - HISTORY);
    return [...LEAD_STANDARD_FIELDS, ...this.fields.deal].map((field, i) => ({
      ...template,
      ...v1Definition(field, i + 1),
      order_nr: i + 1,
      add_time: time,
      update_time: time,
      mandatory_flag: field.key === 'title',
    }));
  }

  /** The keys of the field definitions a fields stream lists: an entity's (standard, then custom), or `lead`'s
   * (/v1/leadFields). */
  fieldKeys(of: FieldEntity | 'lead'): string[] {
    if (of === 'lead') return this.leadFields().map((field) => field.key as string);
    return [...this.standardFields(of), ...this.fields[of].map((field) => field.key)];
  }

  /** The phase indexes of a project board. */
  phasesOf(board: number): number[] {
    const first = this.phaseOffsets[board];
    const end = this.phaseOffsets[board + 1];
    if (first === undefined || end === undefined) return [];
    return Array.from({ length: end - first }, (_, i) => first + i).filter((p) => this.tables.project_phases.exists(p));
  }

  private childList(stream: string): ChildList | undefined {
    return Object.hasOwn(this.children, stream) ? this.children[stream as ChildName] : undefined;
  }

  /** A parent row's child records: a test's, or generated. */
  private childRecords(stream: string, parent: number): Json[] {
    const list = this.childList(stream)!;
    if (!this.tables[list.parent].exists(parent)) return [];
    const set = this.childOverrides.get(stream as ChildName)?.get(parent);
    return set ? structuredClone(set) : list.generate(parent);
  }

  /** The row of a record by its id (numeric ids are row indexes), or undefined if there is none. */
  private findIndex(stream: MutableStream, id: number | string): number | undefined {
    const table = this.tables[stream];
    if (typeof id === 'number') return table.exists(id) ? id : undefined;
    for (const index of table.order('index')) if (table.get(index)?.id === id) return index;
    return undefined;
  }

  /** Adds a custom field to an entity, as an admin does in Pipedrive's settings; records get values for it. */
  addField(entity: FieldEntity, field: SimField): void {
    this.fields[entity].push(field);
    this.table(FIELD_CARRIERS[entity]).forget();
  }

  /** Renames a custom field. */
  renameField(entity: FieldEntity, key: string, name: string): void {
    const field = this.fields[entity].find((f) => f.key === key);
    if (!field) throw new Error(`no ${entity} field ${key}`);
    field.name = name;
  }

  /** The properties of an entity's records that are standard fields (named as its definitions list them). */
  standardFields(entity: FieldEntity): string[] {
    const record = this.table(FIELD_CARRIERS[entity]).build(1, this.anchor);
    return Object.keys(record).filter((key) => key !== 'custom_fields' && !/^[0-9a-f]{40}/.test(key));
  }

  /** A record's custom-field values, v2's way (`custom_fields`); each field's value is its own draw, so that adding
   * a field changes no other value. */
  customFields(entity: FieldEntity, id: number): Json {
    return Object.fromEntries(this.fields[entity].map((field) => [field.key, this.customValue(entity, id, field)]));
  }

  /** A record's custom-field values, v1's way: at the top level, with siblings. */
  v1CustomFields(entity: FieldEntity, id: number): Json {
    return Object.assign(
      {},
      ...this.fields[entity].map((field) => v1Values(field, this.customValue(entity, id, field))),
    );
  }

  /**
   * A record as it should reach the warehouse with readable custom fields: v2's `custom_fields` object, or v1's hash
   * keys, replaced by a column per field (named against `standard`, the stream's standard properties). `index`: the
   * row whose generated values a v1 record carries, when its id is not its index (leads).
   */
  readable(entity: FieldEntity, record: Json, standard: ReadonlySet<string>, index = Number(record.id)): Json {
    const fields = this.fields[entity];
    const id = index;
    const plain = Object.fromEntries(
      Object.entries(record).filter(([key]) => key !== 'custom_fields' && !/^[0-9a-f]{40}/.test(key)),
    );
    // A v2 record's own values (a test may have changed them); v1 records' are the generated ones.
    const own = record.custom_fields as Json | undefined;
    const columns = fields.map((field) =>
      expectedValues(
        field,
        expectedColumn(field, fields, standard),
        own ? (own[field.key] ?? null) : this.customValue(entity, id, field),
      ),
    );
    return Object.assign(plain, ...columns);
  }

  private customValue(entity: FieldEntity, id: number, field: SimField): unknown {
    const c = this.counts;
    const refs = {
      users: c.users,
      organizations: c.organizations,
      persons: c.persons,
      deals: c.deals,
      stages: c.stages,
      pipelines: c.pipelines,
    };
    return v2Value(field, new Random(hash(this.seed, 'custom-field', entity, id, field.key)), refs);
  }

  // ---- Changes, as a test makes them between two syncs. Each one stamps the record's cursor with `at`. ----

  /** Changes fields of a record (or just touches it) and returns it. A changed message also touches its thread. */
  update(stream: MutableStream, id: number | string, fields: Json = {}, at = this.nowSecond()): Json {
    const table = this.tables[stream];
    const index = this.indexOf(stream, id);
    if (!table.exists(index)) throw new Error(`${stream} ${id} does not exist`);
    const record = { ...table.get(index), ...fields };
    const cursor = CURSORS[stream];
    if (cursor) record[cursor.field] = cursor.format(at);
    table.put(index, record, at);
    if (stream === 'email_messages')
      this.update('email_threads', this.threadOf(index), { last_message_timestamp: mailTime(at) }, at);
    return record;
  }

  /** Adds a record (fields default to a generated one) and returns it. */
  add(stream: Exclude<MutableStream, 'email_messages'>, fields: Json = {}, at = this.nowSecond()): Json {
    const table = this.tables[stream];
    const index = table.lastIndex + 1;
    const built = table.build(index, at);
    // A record whose id is not its row's index (a lead's UUID) keeps the id it was built with.
    const record: Json = { ...built, ...fields, id: typeof built.id === 'string' ? built.id : index };
    const cursor = CURSORS[stream];
    if (cursor && 'add_time' in record) record.add_time = cursor.format(at);
    table.put(index, record, at);
    return record;
  }

  /** Deletes a record the way Pipedrive does at first: it stays listed, flagged as deleted. */
  remove(stream: MutableStream, id: number | string, at = this.nowSecond()): Json {
    const fields: Json =
      stream === 'deals'
        ? { status: 'deleted', is_deleted: true }
        : stream === 'projects'
          ? { status: 'deleted' }
          : stream === 'email_threads' || stream === 'email_messages'
            ? { deleted_flag: 1 }
            : 'is_deleted' in (this.tables[stream].get(this.indexOf(stream, id)) ?? {})
              ? { is_deleted: true }
              : { active_flag: false };
    return this.update(stream, id, fields, at);
  }

  archiveDeal(id: number, at = this.nowSecond()): Json {
    return this.update('deals', id, { is_archived: true, archive_time: v2Time(at) }, at);
  }

  /** Removes a record for good (Pipedrive purges deleted records after 30 days). */
  purge(stream: MutableStream, id: number | string, at = this.nowSecond()): void {
    this.tables[stream].purge(this.indexOf(stream, id), at);
  }

  private nowSecond(): number {
    return toSecond(this.clock.now());
  }

  private indexOf(stream: MutableStream, id: number | string): number {
    if (typeof id === 'number') return id;
    const table = this.tables[stream];
    for (let index = 1; index <= table.lastIndex; index++) if (table.get(index)?.id === id) return index;
    throw new Error(`no ${stream} ${id}`);
  }

  // ---- Lists derived from their parents' records: a deal's products, an entity's field history, … ----

  /** The products attached to a deal (0 to 3, or what a test set), ids unique across deals. */
  dealProducts(deal: number): Json[] {
    return this.childrenOf('deal_products', deal);
  }

  private childLists(): Record<ChildName, ChildList> {
    const followers = (parent: 'deals' | 'persons' | 'organizations' | 'products'): ChildList => ({
      parent,
      generate: (index) => this.followers(parent, index),
    });
    return {
      deal_products: {
        parent: 'deals',
        generate: (deal) => this.generatedDealProducts(deal),
        parentKey: 'deal_id',
        ownIds: true,
      },
      deal_installments: {
        parent: 'deals',
        generate: (deal) => this.installments(deal),
        parentKey: 'deal_id',
        ownIds: true,
      },
      deal_participants: { parent: 'deals', generate: (deal) => this.participants(deal), ownIds: true },
      deal_followers: followers('deals'),
      person_followers: followers('persons'),
      organization_followers: followers('organizations'),
      product_followers: followers('products'),
      product_variations: {
        parent: 'products',
        generate: (product) => this.variations(product),
        parentKey: 'product_id',
        ownIds: true,
      },
      deal_changelog: { parent: 'deals', generate: (index) => this.changelog('deals', index) },
      person_changelog: { parent: 'persons', generate: (index) => this.changelog('persons', index) },
      organization_changelog: { parent: 'organizations', generate: (index) => this.changelog('organizations', index) },
      role_assignments: { parent: 'roles', generate: (role) => this.roleAssignments(role), parentKey: 'role_id' },
      permission_set_assignments: {
        parent: 'permission_sets',
        generate: (set) => this.permissionSetAssignments(set),
        parentKey: 'permission_set_id',
      },
    };
  }

  /** A deal's installments: about two deals in five have 1 to 4, billed monthly from when the deal was added; ids
   * unique across deals. Pipedrive gives them no time of their own. */
  private installments(deal: number): Json[] {
    const r = this.rng('deal-installments', deal);
    if (!r.chance(0.4)) return [];
    const added = this.lifetime('deals', deal).added;
    return Array.from({ length: r.int(1, 4) }, (_, k) => ({
      ...example('/api/v2/deals/installments'),
      id: deal * 5 + k,
      amount: r.int(1, 80) * 125,
      billing_date: date(added + (k + 1) * 30 * DAY),
      deal_id: deal,
      description: r.pick(['Setup fee', 'Delivery Fee', 'Licence instalment', 'Training', 'Support retainer']),
    }));
  }

  /** A product's variations: three products in five have 1 to 3, priced in euros (some in dollars too); ids unique
   * across products. */
  private variations(product: number): Json[] {
    const r = this.rng('product-variations', product);
    if (!r.chance(0.6)) return [];
    const template = example('/api/v2/products/{id}/variations');
    const editions = ['Basic', 'Plus', 'Premium', 'Annual', 'Reseller', 'Education'];
    return Array.from({ length: r.int(1, 3) }, (_, k) => {
      const id = product * 4 + k;
      return {
        ...template,
        id,
        name: `${r.pick(editions)} edition ${k + 1}`,
        product_id: product,
        prices: (r.chance(0.3) ? ['EUR', 'USD'] : ['EUR']).map((currency) => ({
          ...(template.prices as Json[])[0],
          product_variation_id: id,
          price: r.int(10, 900),
          currency,
          cost: r.int(1, 9),
          direct_cost: r.chance(0.5) ? r.int(1, 5) : null,
          notes: r.chance(0.3) ? 'Volume discount from 10 seats' : '',
        })),
      };
    });
  }

  /** Who follows a deal, person, organization or product: 1 to 3 users (by user id), since between when the record
   * was added and its last generated update. */
  private followers(entity: 'deals' | 'persons' | 'organizations' | 'products', index: number): Json[] {
    const r = this.rng(`${entity}-followers`, index);
    const users = this.counts.users;
    const { added, updated } = this.lifetime(entity, index);
    const first = r.int(1, users);
    const chosen = new Set(
      Array.from({ length: Math.min(users, r.int(1, 3)) }, (_, k) => ((first + 3 * k - 1) % users) + 1),
    );
    return [...chosen]
      .sort((a, b) => a - b)
      .map((user) => ({
        ...example(`/api/v2/${entity}/{id}/followers`),
        user_id: user,
        add_time: v2Time(toSecond(added + r.next() * (updated - added))),
      }));
  }

  /** A user as v1 nests one (`added_by_user_id`, a person's `owner_id`). */
  private nestedUser(id: number): Json {
    const user = this.tables.users.get(id);
    return {
      id,
      name: user?.name ?? `User ${id}`,
      email: user?.email ?? `user${id}@example.com`,
      has_pic: 0,
      pic_hash: null,
      active_flag: user?.active_flag !== false,
      value: id,
    };
  }

  /** A deal's participants: its person and up to two more, v1's way (the person nested whole, lighter than
   * Pipedrive's: the same keys, fewer real values); ids unique across deals. */
  private participants(index: number): Json[] {
    const deal = this.tables.deals.get(index)!;
    const r = this.rng('deal-participants', index);
    const { added, updated } = this.lifetime('deals', index);
    const template = example('/v1/deals/{id}/participants');
    const ids = new Set<number>();
    if (typeof deal.person_id === 'number') ids.add(deal.person_id);
    for (let k = r.int(1, 3) - ids.size; k > 0; k--) ids.add(r.int(1, this.counts.persons));
    return [...ids].map((personId, k) => {
      const person = this.tables.persons.get(personId);
      const name = String(person?.name ?? `Person ${personId}`);
      const [first = name, last = ''] = name.split(' ');
      const email = (person?.emails as Json[] | undefined) ?? [];
      const phone = (person?.phones as Json[] | undefined) ?? [];
      const owner = this.nestedUser(Number(person?.owner_id ?? 1));
      const orgId = typeof person?.org_id === 'number' ? person.org_id : null;
      const org = orgId === null ? undefined : this.tables.organizations.get(orgId);
      const nested: Json = { ...(template.person as Json) };
      for (const key of Object.keys(nested)) if (key.endsWith('_count')) nested[key] = person?.[key] ?? 0;
      const since = toSecond(added + ((updated - added) * k) / 4);
      const personTime = person ? String(person.update_time).replace('T', ' ').replace('Z', '') : v1Time(since);
      return {
        ...template,
        id: index * 4 + k,
        person_id: { active_flag: true, name, email, phone, value: personId },
        add_time: v1Time(since),
        active_flag: true,
        related_item_data: { deal_id: index, title: deal.title },
        person: {
          ...nested,
          id: personId,
          company_id: 7_001,
          owner_id: owner,
          org_id: org
            ? {
                name: org.name,
                people_count: org.people_count ?? 1,
                owner_id: org.owner_id,
                address: (org.address as Json | null)?.value ?? null,
                active_flag: true,
                cc_email: null,
                value: orgId,
              }
            : null,
          name,
          first_name: first,
          last_name: last,
          active_flag: true,
          phone,
          email,
          first_char: name.charAt(0).toLowerCase(),
          update_time: personTime,
          add_time: person ? String(person.add_time).replace('T', ' ').replace('Z', '') : v1Time(since),
          visible_to: String(person?.visible_to ?? 3),
          picture_id: null,
          next_activity_date: null,
          next_activity_time: null,
          next_activity_id: person?.next_activity_id ?? null,
          last_activity_id: person?.last_activity_id ?? null,
          last_activity_date: null,
          last_incoming_mail_time: null,
          last_outgoing_mail_time: null,
          label: null,
          label_ids: person?.label_ids ?? [],
          org_name: org?.name ?? null,
          owner_name: owner.name,
          cc_email: `acme+person${personId}@pipedrivemail.com`,
        },
        added_by_user_id: this.nestedUser(Number(deal.owner_id ?? 1)),
        related_item_type: 'deal',
        related_item_id: index,
      };
    });
  }

  /** The role a user is in (each user in exactly one): user 1 in Admins, the others spread over the roles. */
  private roleOf(user: number): number {
    return user === 1 ? 2 : 1 + (hash(this.seed, 'user-role', user) % this.counts.roles);
  }

  private roleAssignments(role: number): Json[] {
    const record = this.tables.roles.get(role)!;
    const users = this.tables.users;
    return Array.from(users.order('index'))
      .filter((user) => this.roleOf(user) === role)
      .map((user) => ({
        ...example('/v1/roles/{id}/assignments'),
        user_id: user,
        role_id: role,
        parent_role_id: record.parent_role_id,
        name: record.name,
        active_flag: users.get(user)?.active_flag !== false,
        type: '1',
      }));
  }

  /** The users a permission set is assigned to: sales and global sets by whether the user is an admin, account
   * settings and the projects set to user 1 only; two custom sets to nobody (Pipedrive answers those 404). */
  private permissionSetMembers(set: number): number[] {
    const users = this.tables.users;
    const who = PERMISSION_SETS[(set - 1) % PERMISSION_SETS.length]!.who;
    const isAdmin = (user: Json) =>
      user.is_admin === 1 || ((user.access as { admin: boolean }[] | undefined) ?? []).some((a) => a.admin);
    return Array.from(users.order('index')).filter((user) => {
      if (who === 'owner') return user === 1;
      if (who === 'nobody') return false;
      return isAdmin(users.get(user)!) === (who === 'admins');
    });
  }

  private permissionSetAssignments(set: number): Json[] {
    const record = this.tables.permission_sets.get(set)!;
    return this.permissionSetMembers(set).map((user) => ({
      ...example('/v1/permissionSets/{id}/assignments'),
      user_id: user,
      permission_set_id: record.id,
      name: record.name,
    }));
  }

  private generatedDealProducts(deal: number): Json[] {
    const r = this.rng('deal-products', deal);
    const added = this.lifetime('deals', deal).added;
    return Array.from({ length: r.int(0, 3) }, (_, k) => {
      const quantity = r.int(1, 20);
      const price = r.int(5, 900);
      return {
        ...example('/api/v2/deals/products'),
        id: deal * 4 + k,
        deal_id: deal,
        product_id: r.int(1, this.counts.products),
        name: `${r.pick(DEAL_WORDS)} ${k + 1}`,
        order_nr: k,
        item_price: price,
        quantity,
        sum: price * quantity,
        currency: 'EUR',
        add_time: v2Time(added),
        update_time: v2Time(added),
        billing_start_date: date(added),
      };
    });
  }

  /**
   * The field-level history of a deal, person or organization, newest first: two to four changes between when it was
   * added and its generated last update, and one more at its current update time if a test changed it since.
   */
  changelog(entity: 'deals' | 'persons' | 'organizations', index: number): Json[] {
    const record = this.tables[entity].get(index);
    if (!record) return [];
    const { added, updated } = this.lifetime(entity, index);
    const r = this.rng(`${entity}-changelog`, index);
    const fields = entity === 'deals' ? ['title', 'value', 'stage_id', 'user_id'] : ['name', 'owner_id', 'label'];
    const count = r.int(2, 4);
    const change = (time: number, k: number): Json => ({
      ...example(`/v1/${entity}/{id}/changelog`),
      field_key: r.pick(fields),
      old_value: k === 0 ? null : String(r.int(1, 999)),
      new_value: String(r.int(1, 999)),
      actor_user_id: 1 + (hash(this.seed, entity, 'actor', index, k) % this.counts.users),
      time: v1Time(time),
      change_source: r.pick(['app', 'api', 'mobile']),
      is_bulk_update_flag: false,
    });
    const changes = Array.from({ length: count }, (_, k) =>
      change(k === count - 1 ? updated : toSecond(added + ((updated - added) * (k + 1)) / (count + 1)), k),
    );
    const now = this.tables[entity].time(index);
    if (now > updated) changes.push(change(now, count));
    return changes.reverse();
  }

  /** The thread a message belongs to. */
  threadOf(message: number): number {
    let low = 1;
    let high = this.messageOffsets.length - 2;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.messageOffsets[mid]! <= message) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  /** The message indexes of a thread. */
  messagesOf(thread: number): number[] {
    const first = this.messageOffsets[thread];
    const end = this.messageOffsets[thread + 1];
    if (first === undefined || end === undefined) return [];
    return Array.from({ length: end - first }, (_, i) => first + i).filter((m) => this.tables.email_messages.exists(m));
  }

  private messagesPerThread(thread: number): number {
    return 1 + (hash(this.seed, 'thread-size', thread) % 4);
  }

  private leadLabelIds(): string[] {
    return (examples['/v1/leadLabels']!.data as Json[])
      .slice(0, this.counts.lead_labels)
      .map((label) => label.id as string);
  }

  private rng(entity: string, index: number): Random {
    return new Random(hash(this.seed, entity, index));
  }

  /** When a row was added and last updated: a uniform spread over the two years before the anchor. */
  private lifetime(entity: string, index: number): { added: number; updated: number } {
    const r = new Random(hash(this.seed, entity, 'time', index));
    const added = toSecond(this.anchor - HISTORY + r.next() * (HISTORY - DAY));
    return { added, updated: toSecond(added + r.next() * (this.anchor - added)) };
  }

  private dealStatus(index: number): number {
    const roll = hash(this.seed, 'deal-status', index) % 100;
    return roll < 55 ? 0 : roll < 75 ? 1 : roll < 97 ? 2 : 3;
  }

  private dealArchived = (index: number) => hash(this.seed, 'deal-archived', index) % 100 < 5;
  /** 60 % of projects are open, 25 % completed, 15 % canceled; a third of the closed ones are archived. */
  private projectStatus(index: number): number {
    const roll = hash(this.seed, 'project-status', index) % 100;
    return roll < 60 ? 0 : roll < 85 ? 1 : 2;
  }
  private projectArchived = (index: number) =>
    this.projectStatus(index) > 0 && hash(this.seed, 'project-archived', index) % 3 === 0;

  /** The board a phase belongs to. */
  private boardOf(phase: number): number {
    let low = 1;
    let high = this.phaseOffsets.length - 2;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.phaseOffsets[mid]! <= phase) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  /** Tasks: one in five is a subtask of the nearest root task before it (in that task's project); the rest belong to
   * a project each. */
  private isSubtask = (task: number) => task > 1 && hash(this.seed, 'subtask', task) % 5 === 0;
  private parentTask(task: number): number | null {
    if (!this.isSubtask(task)) return null;
    let parent = task - 1;
    while (this.isSubtask(parent)) parent--;
    return parent;
  }
  private projectOfTask(task: number): number {
    const root = this.parentTask(task) ?? task;
    return 1 + (hash(this.seed, 'task-project', root) % this.counts.projects);
  }

  /** Call logs cover the year before the anchor, evenly, oldest first. */
  private callTime(index: number): number {
    const year = 365 * DAY;
    const step = year / this.counts.call_logs;
    const jitter = (hash(this.seed, 'call-time', index) % 1000) / 1000;
    return toSecond(this.anchor - year + (index - 1 + jitter) * step);
  }
  private leadArchived = (index: number) => hash(this.seed, 'lead-archived', index) % 100 < 15;

  private folderBits(thread: number): number {
    const roll = hash(this.seed, 'thread-folders', thread) % 10;
    return [1, 1, 1, 1, 1, 1, 0b1001, 0b0100, 0b0010, 0b1100][roll]!;
  }

  private specs(): { [K in EntityName | 'email_messages']: EntitySpec<Json> } {
    return { ...this.coreSpecs(), ...this.moreSpecs() };
  }

  /** Projects and their boards, phases, templates and tasks; call logs; roles, permission sets and teams. */
  private moreSpecs(): { [K in Exclude<EntityName, CoreEntity>]: EntitySpec<Json> } {
    const c = this.counts;
    const v2Simple = (
      entity: string,
      count: number,
      build: (index: number, added: number, updated: number) => Json,
    ) => ({
      count,
      meta: (index: number) => ({ updated: this.lifetime(entity, index).updated }),
      build: (index: number, updated: number) =>
        build(index, Math.min(this.lifetime(entity, index).added, updated), updated),
    });
    const userId = (entity: string, index: number) => 1 + (hash(this.seed, entity, 'user', index) % c.users);
    const fixed = () => ({ updated: this.anchor - HISTORY });
    return {
      projects: {
        count: c.projects,
        meta: (id) => ({
          updated: this.lifetime('projects', id).updated,
          facet: this.projectStatus(id) | (this.projectArchived(id) ? ARCHIVED_BIT : 0),
        }),
        facet: (project) =>
          PROJECT_STATUSES.indexOf(project.status as never) | (project.archive_time ? ARCHIVED_BIT : 0),
        build: (id, updated) => {
          const r = this.rng('projects', id);
          const added = Math.min(this.lifetime('projects', id).added, updated);
          const status = PROJECT_STATUSES[this.projectStatus(id)]!;
          const board = r.int(1, c.project_boards);
          const phases = this.phasesOf(board);
          const start = added + r.int(0, 14) * DAY;
          return {
            ...example('/api/v2/projects'),
            id,
            title: `${r.pick(COMPANY_WORDS)} ${r.pick(['onboarding', 'rollout', 'migration', 'implementation', 'audit'])} ${id}`,
            description: r.chance(0.6) ? `${r.pick(DEAL_WORDS)} project for ${r.pick(COMPANY_WORDS)}` : null,
            status,
            board_id: board,
            phase_id: phases.length ? r.pick(phases) : null,
            owner_id: userId('projects', id),
            start_date: date(start),
            end_date: r.chance(0.8) ? date(start + r.int(14, 180) * DAY) : null,
            deal_ids: r.chance(0.6) ? [r.int(1, c.deals)] : [],
            person_ids: r.chance(0.5) ? [r.int(1, c.persons)] : [],
            org_ids: r.chance(0.5) ? [r.int(1, c.organizations)] : [],
            label_ids: r.chance(0.3) ? [r.int(1, 5)] : [],
            health_status: r.pick([null, 10, 20, 30]),
            add_time: v2Time(added),
            update_time: v2Time(updated),
            status_change_time: status === 'open' ? v2Time(added) : v2Time(updated),
            archive_time: this.projectArchived(id) ? v2Time(updated) : null,
            custom_fields: this.customFields('project', id),
          };
        },
      },
      project_boards: v2Simple('project_boards', c.project_boards, (id, added, updated) => ({
        ...example('/api/v2/boards'),
        id,
        name: ['Client projects', 'Onboarding', 'Internal', 'Implementation'][(id - 1) % 4] + (id > 4 ? ` ${id}` : ''),
        order_nr: id,
        add_time: v2Time(added),
        update_time: v2Time(updated),
      })),
      project_phases: v2Simple('project_phases', this.phaseOffsets[c.project_boards + 1]! - 1, (id, added, updated) => {
        const board = this.boardOf(id);
        const order = id - this.phaseOffsets[board]! + 1;
        return {
          ...example('/api/v2/phases'),
          id,
          name: ['Planning', 'Kick-off', 'In progress', 'Review', 'Delivery', 'Closing'][order - 1],
          board_id: board,
          order_nr: order,
          add_time: v2Time(added),
          update_time: v2Time(updated),
        };
      }),
      project_templates: v2Simple('project_templates', c.project_templates, (id, added, updated) => {
        const r = this.rng('project_templates', id);
        const kind = r.pick(['Customer onboarding', 'Office renovation', 'Product launch', 'Data migration', 'Audit']);
        return {
          ...example('/api/v2/projectTemplates'),
          id,
          title: `${kind} ${id}`,
          description: `Template for ${kind.toLowerCase()} projects`,
          projects_board_id: r.int(1, c.project_boards),
          owner_id: userId('project_templates', id),
          add_time: v2Time(added),
          update_time: v2Time(updated),
        };
      }),
      tasks: v2Simple('tasks', c.tasks, (id, added, updated) => {
        const r = this.rng('tasks', id);
        const parent = this.parentTask(id);
        const done = r.chance(0.45);
        const start = r.chance(0.6) ? added + r.int(0, 10) * DAY : null;
        return {
          ...example('/api/v2/tasks'),
          id,
          title: `${r.pick(['Prepare', 'Review', 'Send', 'Schedule', 'Configure'])} ${r.pick(['kick-off', 'contract', 'data import', 'training', 'report'])}`,
          creator_id: userId('task-creator', id),
          description: r.chance(0.5) ? 'See the project brief' : null,
          project_id: this.projectOfTask(id),
          is_done: done,
          is_milestone: parent === null && r.chance(0.1),
          due_date: r.chance(0.7) ? date(added + r.int(5, 60) * DAY) : null,
          start_date: start === null ? null : date(start),
          parent_task_id: parent,
          assignee_ids: [...new Set([userId('task-assignee', id), r.int(1, c.users)])].slice(0, r.int(0, 2)),
          priority: r.pick([null, 1, 2, 3]),
          add_time: v2Time(added),
          update_time: v2Time(updated),
          marked_as_done_time: done ? v2Time(updated) : null,
        };
      }),
      call_logs: {
        count: c.call_logs,
        meta: (index) => ({ updated: this.callTime(index) }),
        build: (index, start) => {
          const r = this.rng('call_logs', index);
          const outcome = r.pick([
            'connected',
            'connected',
            'connected',
            'no_answer',
            'left_message',
            'left_voicemail',
            'wrong_number',
            'busy',
          ]);
          const seconds = outcome === 'connected' ? r.int(20, 2400) : outcome.startsWith('left') ? r.int(10, 90) : 0;
          const hex = (part: string, length: number) =>
            hash(this.seed, 'call-id', part, index).toString(16).padStart(8, '0').slice(0, length);
          const record: Json = {
            ...example('/v1/callLogs'),
            id: `CA${hex('a', 8)}${hex('b', 8)}${hex('c', 5)}${index.toString(16).padStart(6, '0')}`,
            activity_id: r.int(1, c.activities),
            person_id: r.int(1, c.persons),
            org_id: r.int(1, c.organizations),
            deal_id: r.int(1, c.deals),
            subject: `${r.pick(['Follow-up', 'Discovery', 'Check-in', 'Pricing'])} call`,
            duration: String(seconds),
            outcome,
            from_phone_number: `+37255${r.int(100000, 999999)}`,
            to_phone_number: `+4930${r.int(1000000, 9999999)}`,
            has_recording: outcome === 'connected' && r.chance(0.4),
            start_time: mailTime(start),
            end_time: mailTime(start + seconds * SECOND),
            user_id: userId('call_logs', index),
            company_id: 7_001,
            note: r.chance(0.5)
              ? `<p>${r.pick(['Asked for a quote', 'Call back next week', 'Interested in the demo'])}</p>`
              : '',
          };
          // As in Pipedrive's second example, a call need not name an organization, a deal, a subject or a caller id.
          if (r.chance(0.3)) delete record.org_id;
          if (r.chance(0.4)) delete record.deal_id;
          if (r.chance(0.2)) delete record.subject;
          if (r.chance(0.2)) delete record.from_phone_number;
          return record;
        },
      },
      roles: {
        count: c.roles,
        meta: fixed,
        build: (id) => {
          let level = 1;
          for (let role = parentRole(id); role !== null; role = parentRole(role)) level++;
          const users = Array.from(this.tables.users.order('index'));
          const roles = Array.from({ length: c.roles }, (_, i) => i + 1);
          return {
            ...example('/v1/roles'),
            id,
            parent_role_id: parentRole(id),
            name: ROLE_NAMES[id - 1] ?? `Team role ${id}`,
            active_flag: true,
            assignment_count: String(users.filter((user) => this.roleOf(user) === id).length),
            sub_role_count: String(roles.filter((role) => parentRole(role) === id).length),
            level,
          };
        },
      },
      permission_sets: {
        count: c.permission_sets,
        meta: fixed,
        build: (index) => {
          const documented = examples['/v1/permissionSets']!.data as Json[];
          const { set } = PERMISSION_SETS[(index - 1) % PERMISSION_SETS.length]!;
          return {
            ...documented[0],
            ...(documented[index - 1] ?? set),
            ...(index > documented.length ? { id: uuid(hash(this.seed, 'permission-set', index), index) } : {}),
            assignment_count: this.permissionSetMembers(index).length,
          };
        },
      },
      legacy_teams: {
        count: c.legacy_teams,
        meta: (id) => ({ updated: this.lifetime('legacy_teams', id).added }),
        build: (id, added) => {
          const r = this.rng('legacy_teams', id);
          const manager = userId('team-manager', id);
          const members = new Set([manager]);
          for (let k = r.int(1, 4); k > 0; k--) members.add(r.int(1, c.users));
          const [city] = r.pick(CITIES);
          return {
            ...example('/v1/legacyTeams'),
            id,
            name: ['Closers', 'Hunters', 'Farmers', 'Partners'][(id - 1) % 4] + (id > 4 ? ` ${id}` : ''),
            description: `${city} office Sales Team`,
            manager_id: manager,
            users: [...members].sort((a, b) => a - b),
            active_flag: id % 4 === 0 ? 0 : 1,
            deleted_flag: 0,
            add_time: v1Time(added),
            created_by_user_id: 1,
          };
        },
      },
    };
  }

  private coreSpecs(): { [K in CoreEntity | 'email_messages']: EntitySpec<Json> } {
    const c = this.counts;
    const simple = (
      entity: string,
      count: number,
      build: (index: number, times: { added: number; updated: number }) => Json,
    ): EntitySpec<Json> => ({
      count,
      meta: (index) => ({ updated: this.lifetime(entity, index).updated }),
      build: (index, updated) => build(index, { added: this.lifetime(entity, index).added, updated }),
      // v1 records deleted (active_flag false) vanish from their lists; /v1/recents still shows them.
      facet: (record) => (record.active_flag === false ? DELETED_BIT : 0),
    });
    const pick = <T>(entity: string, index: number, items: readonly T[]) =>
      this.rng(`${entity}-pick`, index).pick(items);
    const userId = (entity: string, index: number) => 1 + (hash(this.seed, entity, 'user', index) % c.users);
    const personName = (r: Random) => [r.pick(FIRST_NAMES), r.pick(LAST_NAMES)] as const;
    const companyName = (r: Random) => `${r.pick(COMPANY_WORDS)} ${r.pick(COMPANY_SUFFIXES)}`;
    const address = (r: Random) => {
      const [locality, country, area] = r.pick(CITIES);
      const street = `${r.pick(LAST_NAMES)} tee`;
      const number = String(r.int(1, 120));
      return {
        value: `${street} ${number}, ${locality}, ${country}`,
        country,
        admin_area_level_1: area,
        admin_area_level_2: null,
        locality,
        sublocality: null,
        route: street,
        street_number: number,
        subpremise: null,
        postal_code: String(r.int(10000, 99999)),
      };
    };
    const count = (r: Random, max = 12) => r.int(0, max);

    return {
      users: simple('users', c.users, (id, t) => {
        const r = this.rng('users', id);
        const [first, last] = personName(r);
        const user: Json = {
          ...example('/v1/users'),
          id,
          name: `${first} ${last}`,
          email: `${first}.${last}@example.com`.toLowerCase(),
          phone: r.chance(0.5) ? `+372 5${r.int(100000, 999999)}` : null,
          default_currency: 'EUR',
          last_login: v1Time(t.updated),
          created: v1Time(t.added),
          modified: v1Time(t.updated),
          has_created_company: id === 1,
          active_flag: id % 7 !== 0,
          is_you: false,
          is_deleted: false,
          icon_url: null,
          role_id: 1,
        };
        // User 1 is a global admin, user 2 is not, user 3 is an admin known only by the legacy is_admin flag.
        if (id === 3) {
          user.access = undefined;
          user.is_admin = 1;
        } else {
          const admin = id === 1 || (id > 3 && r.chance(0.3));
          user.access = [
            { app: 'sales', admin, permission_set_id: '62cc4d7f-4038-4352-abf3-a8c1c822b631' },
            { app: 'global', admin, permission_set_id: '233b7976-39bd-43a9-b305-ef3a2b0998e5' },
          ];
        }
        return user;
      }),
      activity_types: simple('activity_types', c.activity_types, (id, t) => {
        const names = [
          'Call',
          'Meeting',
          'Task',
          'Deadline',
          'Email',
          'Lunch',
          'Demo',
          'Follow-up',
          'Site visit',
          'Webinar',
          'Contract',
          'Review',
        ];
        const name = id <= names.length ? names[id - 1]! : `Custom type ${id}`;
        return {
          ...example('/v1/activityTypes'),
          id,
          order_nr: id,
          name,
          key_string: name.toLowerCase().replace(/\W+/g, '_'),
          icon_key: pick('activity_types', id, ['call', 'meeting', 'task', 'deadline', 'email', 'lunch']),
          is_custom_flag: id > 6,
          active_flag: id % 9 !== 0,
          add_time: v1Time(t.added),
          update_time: v1Time(t.updated),
        };
      }),
      currencies: {
        count: c.currencies,
        meta: () => ({ updated: this.anchor }),
        build: (id) => {
          const list = [
            ['EUR', 'Euro', '€', 2],
            ['USD', 'US Dollar', '$', 2],
            ['GBP', 'Pound Sterling', '£', 2],
            ['SEK', 'Swedish Krona', 'kr', 2],
            ['JPY', 'Japanese Yen', '¥', 0],
            ['CHF', 'Swiss Franc', 'CHF', 2],
          ] as const;
          const [code, name, symbol, decimal_points] = list[(id - 1) % list.length]!;
          return {
            ...example('/v1/currencies'),
            id,
            code: id > list.length ? `X${id}` : code,
            name,
            symbol,
            decimal_points,
            active_flag: true,
            is_custom_flag: id > list.length,
          };
        },
      },
      pipelines: simple('pipelines', c.pipelines, (id, t) => ({
        ...example('/api/v2/pipelines'),
        id,
        name: ['Sales', 'Partnerships', 'Renewals', 'Enterprise'][(id - 1) % 4] + (id > 4 ? ` ${id}` : ''),
        order_nr: id,
        is_deleted: false,
        is_deal_probability_enabled: id % 2 === 1,
        add_time: v2Time(t.added),
        update_time: v2Time(t.updated),
      })),
      stages: simple('stages', c.stages, (id, t) => {
        const perPipeline = Math.max(1, Math.ceil(c.stages / c.pipelines));
        const order = ((id - 1) % perPipeline) + 1;
        return {
          ...example('/api/v2/stages'),
          id,
          order_nr: order,
          pipeline_id: Math.ceil(id / perPipeline),
          name: ['Qualified', 'Contact made', 'Proposal made', 'Negotiations started', 'Verbal yes', 'Contract sent'][
            (order - 1) % 6
          ],
          deal_probability: Math.min(100, order * 20),
          is_deleted: false,
          is_deal_rot_enabled: order > 2,
          days_to_rotten: order > 2 ? order * 5 : null,
          add_time: v2Time(t.added),
          update_time: v2Time(t.updated),
        };
      }),
      goals: {
        count: c.goals,
        meta: () => ({ updated: this.anchor }),
        build: (index) => {
          const r = this.rng('goals', index);
          const assignee = index <= 2 ? 'person' : r.pick(['person', 'team', 'company'] as const);
          return {
            ...example('/v1/goals/find'),
            id: hash(this.seed, 'goal', index).toString(16).padStart(8, '0').repeat(4),
            owner_id: userId('goals', index),
            title: `${r.pick(['Q1', 'Q2', 'Q3', 'Q4'])} ${r.pick(['deals won', 'activities', 'new deals'])} ${index}`,
            type: {
              name: r.pick([
                'deals_won',
                'deals_progressed',
                'activities_completed',
                'activities_added',
                'deals_started',
              ]),
              params: { pipeline_id: [1 + (index % c.pipelines)], activity_type_id: [1] },
            },
            assignee: {
              type: assignee,
              id: index <= 2 ? 1 : assignee === 'company' ? 1 : userId('goal-assignee', index),
            },
            interval: r.pick(['weekly', 'monthly', 'quarterly', 'yearly']),
            duration: { start: date(this.anchor - 180 * DAY), end: date(this.anchor + 180 * DAY) },
            expected_outcome: { target: r.int(5, 100), tracking_metric: r.pick(['quantity', 'sum']) },
            is_active: index !== 2 && r.chance(0.7),
            report_ids: [hash(this.seed, 'report', index).toString(16).padStart(8, '0').repeat(4)],
          };
        },
      },
      filters: simple('filters', c.filters, (id, t) => {
        const r = this.rng('filters', id);
        const type = r.pick(['deals', 'leads', 'org', 'people', 'products', 'activity']);
        return {
          ...example('/v1/filters'),
          id,
          name: `${r.pick(['All open', 'My', 'Hot', 'Stale', 'Big'])} ${type} ${id}`,
          type,
          user_id: userId('filters', id),
          visible_to: r.pick(['1', '3', '7']),
          is_editable: true,
          active_flag: true,
          add_time: v1Time(t.added),
          update_time: v1Time(t.updated),
          last_used_time: r.chance(0.5) ? v1Time(t.updated) : null,
        };
      }),
      products: simple('products', c.products, (id, t) => {
        const r = this.rng('products', id);
        const currencies = r.chance(0.4) ? ['EUR', 'USD'] : ['EUR'];
        return {
          ...example('/api/v2/products'),
          id,
          name: `${r.pick(['Pro', 'Team', 'Starter', 'Enterprise'])} ${r.pick(['licence', 'seat', 'support', 'training'])} ${id}`,
          code: `P-${1000 + id}`,
          description: null,
          unit: r.pick(['seat', 'hour', 'unit']),
          tax: r.pick([0, 9, 20]),
          category: r.pick([null, 'Software', 'Services']),
          is_linkable: true,
          is_deleted: false,
          visible_to: 3,
          owner_id: userId('products', id),
          add_time: v2Time(t.added),
          update_time: v2Time(t.updated),
          billing_frequency: r.pick(['one-time', 'monthly', 'annually']),
          billing_frequency_cycles: null,
          prices: currencies.map((currency) => ({
            product_id: id,
            price: r.int(10, 900),
            currency,
            cost: r.int(1, 9),
            direct_cost: r.chance(0.5) ? r.int(1, 5) : null,
            notes: '',
          })),
          custom_fields: this.customFields('product', id),
        };
      }),
      organizations: simple('organizations', c.organizations, (id, t) => {
        const r = this.rng('organizations', id);
        const record: Json = {
          ...example('/api/v2/organizations'),
          id,
          name: `${companyName(r)} ${id}`,
          owner_id: userId('organizations', id),
          add_time: v2Time(t.added),
          update_time: v2Time(t.updated),
          is_deleted: false,
          visible_to: r.pick([3, 7]),
          address: address(r),
          label_ids: r.chance(0.3) ? [r.int(1, 5)] : [],
          website: `https://org${id}.example.com`,
          linkedin: null,
          industry: r.int(1, 40),
          annual_revenue: r.int(0, 900) * 10000,
          employee_count: r.int(1, 5000),
          custom_fields: this.customFields('organization', id),
          next_activity_id: r.int(1, c.activities),
          last_activity_id: r.int(1, c.activities),
          smart_bcc_email: `acme+org${id}@pipedrivemail.com`,
        };
        record.org_id = undefined;
        for (const field of ORGANIZATION_COUNTS) record[field] = count(r);
        return record;
      }),
      persons: simple('persons', c.persons, (id, t) => {
        const r = this.rng('persons', id);
        const [first, last] = personName(r);
        const record: Json = {
          ...example('/api/v2/persons'),
          id,
          name: `${first} ${last}`,
          first_name: first,
          last_name: last,
          owner_id: userId('persons', id),
          org_id: r.chance(0.85) ? r.int(1, c.organizations) : null,
          add_time: v2Time(t.added),
          update_time: v2Time(t.updated),
          emails: [{ value: `${first}.${last}${id}@example.com`.toLowerCase(), primary: true, label: 'work' }],
          phones: r.chance(0.7) ? [{ value: `+49 30 ${r.int(1000000, 9999999)}`, primary: true, label: 'work' }] : [],
          is_deleted: false,
          visible_to: r.pick([3, 7]),
          label_ids: [],
          picture_id: null,
          custom_fields: this.customFields('person', id),
          notes: null,
          im: [],
          birthday: null,
          job_title: r.pick([null, 'CTO', 'Head of Sales', 'Buyer', 'CEO']),
          postal_address: address(r),
          next_activity_id: r.int(1, c.activities),
          last_activity_id: r.int(1, c.activities),
          last_incoming_mail_time: r.chance(0.3) ? v2Time(t.updated) : null,
          last_outgoing_mail_time: null,
          smart_bcc_email: `acme+person${id}@pipedrivemail.com`,
        };
        for (const field of PERSON_COUNTS) record[field] = count(r);
        return record;
      }),
      deals: {
        count: c.deals,
        meta: (id) => {
          const status = this.dealStatus(id);
          const archived = this.dealArchived(id) && status !== 3;
          // Pipedrive keeps deleted deals for 30 days: their last update is the deletion, within the last month.
          const updated =
            status === 3
              ? toSecond(this.anchor - (hash(this.seed, 'deal-deleted', id) % (29 * 86400)) * SECOND)
              : this.lifetime('deals', id).updated;
          return { updated, facet: status | (archived ? ARCHIVED_BIT : 0) };
        },
        facet: (deal) => DEAL_STATUSES.indexOf(deal.status as never) | (deal.is_archived ? ARCHIVED_BIT : 0),
        build: (id, updated) => {
          const r = this.rng('deals', id);
          const status = DEAL_STATUSES[this.dealStatus(id)]!;
          const archived = this.dealArchived(id) && status !== 'deleted';
          const added = Math.min(this.lifetime('deals', id).added, updated);
          const closed = status === 'won' || status === 'lost' ? v2Time(updated) : null;
          const stage = r.int(1, c.stages);
          return {
            ...example('/api/v2/deals'),
            id,
            title: `${companyName(r)} ${r.pick(DEAL_WORDS)} #${id}`,
            creator_user_id: userId('deal-creator', id),
            owner_id: userId('deals', id),
            value: r.int(1, 400) * 250,
            person_id: r.chance(0.9) ? r.int(1, c.persons) : null,
            org_id: r.chance(0.9) ? r.int(1, c.organizations) : null,
            stage_id: stage,
            pipeline_id: Math.ceil(stage / Math.max(1, Math.ceil(c.stages / c.pipelines))),
            currency: r.pick(['EUR', 'USD']),
            archive_time: archived ? v2Time(updated) : null,
            add_time: v2Time(added),
            update_time: v2Time(updated),
            stage_change_time: v2Time(added + Math.floor((updated - added) / 2 / SECOND) * SECOND),
            status,
            is_archived: archived,
            is_deleted: status === 'deleted',
            probability: null,
            lost_reason: status === 'lost' ? r.pick(['Price', 'Timing', 'Competitor']) : null,
            visible_to: 3,
            close_time: closed,
            won_time: status === 'won' ? closed : null,
            lost_time: status === 'lost' ? closed : null,
            local_won_date: status === 'won' ? date(updated) : null,
            local_lost_date: status === 'lost' ? date(updated) : null,
            local_close_date: closed ? date(updated) : null,
            expected_close_date: date(updated + r.int(1, 90) * DAY),
            label_ids: r.chance(0.3) ? [r.int(1, 5)] : [],
            origin: 'ManuallyCreated',
            origin_id: null,
            channel: null,
            channel_id: null,
            source_lead_id: null,
            acv: null,
            arr: null,
            mrr: null,
            custom_fields: this.customFields('deal', id),
            next_activity_id: r.chance(0.6) ? r.int(1, c.activities) : null,
            last_activity_id: r.chance(0.6) ? r.int(1, c.activities) : null,
            first_won_time: status === 'won' ? closed : null,
            products_count: count(r, 3),
            files_count: count(r, 3),
            notes_count: count(r),
            followers_count: count(r, 3),
            email_messages_count: count(r),
            activities_count: count(r),
            done_activities_count: count(r),
            undone_activities_count: count(r),
            participants_count: count(r, 4),
            last_incoming_mail_time: null,
            last_outgoing_mail_time: null,
            smart_bcc_email: `acme+deal${id}@pipedrivemail.com`,
          };
        },
      },
      activities: simple('activities', c.activities, (id, t) => {
        const r = this.rng('activities', id);
        const done = r.chance(0.6);
        const person = r.int(1, c.persons);
        return {
          ...example('/api/v2/activities'),
          id,
          subject: `${r.pick(['Call', 'Meet', 'Email', 'Demo for'])} ${r.pick(LAST_NAMES)}`,
          type: r.pick(['call', 'meeting', 'task', 'deadline', 'email']),
          owner_id: userId('activities', id),
          creator_user_id: userId('activity-creator', id),
          is_deleted: false,
          add_time: v2Time(t.added),
          update_time: v2Time(t.updated),
          deal_id: r.chance(0.7) ? r.int(1, c.deals) : null,
          lead_id: null,
          person_id: person,
          org_id: r.chance(0.7) ? r.int(1, c.organizations) : null,
          project_id: null,
          due_date: date(t.added + r.int(0, 30) * DAY),
          due_time: `${String(r.int(8, 17)).padStart(2, '0')}:00:00`,
          duration: '00:30:00',
          busy: r.chance(0.5),
          done,
          marked_as_done_time: done ? v2Time(t.updated) : null,
          location: r.chance(0.3) ? address(r) : null,
          participants: [{ person_id: person, primary: true }],
          attendees: r.chance(0.4)
            ? [
                {
                  email: `guest${id}@example.com`,
                  name: 'Guest',
                  status: 'accepted',
                  is_organizer: false,
                  person_id: person,
                  user_id: null,
                },
              ]
            : [],
          conference_meeting_client: null,
          conference_meeting_url: null,
          conference_meeting_id: null,
          public_description: null,
          priority: null,
          note: r.chance(0.3) ? '<p>Discussed next steps</p>' : null,
          custom_fields: this.customFields('activity', id),
        };
      }),
      leads: {
        count: c.leads,
        meta: (index) => ({
          updated: this.lifetime('leads', index).updated,
          facet: this.leadArchived(index) ? ARCHIVED_BIT : 0,
        }),
        build: (index, updated) => {
          const r = this.rng('leads', index);
          const added = this.lifetime('leads', index).added;
          const labels = this.leadLabelIds();
          return {
            ...example('/v1/leads'),
            id: uuid(hash(this.seed, 'lead', index), index),
            title: `${r.pick(DEAL_WORDS)} lead ${index}`,
            owner_id: userId('leads', index),
            creator_id: userId('leads', index),
            label_ids: labels.filter(() => r.chance(0.4)),
            person_id: r.chance(0.7) ? r.int(1, c.persons) : null,
            organization_id: r.chance(0.5) ? r.int(1, c.organizations) : null,
            is_archived: this.leadArchived(index),
            was_seen: r.chance(0.5),
            value: r.chance(0.6) ? { amount: r.int(100, 50_000), currency: 'EUR' } : null,
            expected_close_date: null,
            next_activity_id: null,
            // Leads have millisecond timestamps.
            add_time: new Date(added + (index % 997)).toISOString(),
            update_time: new Date(updated + ((index * 37) % 1000)).toISOString(),
            cc_email: `company+1+lead${index}@example.pipedrivemail.com`,
            ...this.v1CustomFields('deal', index),
          };
        },
        facet: (lead) => (lead.is_archived ? ARCHIVED_BIT : 0),
      },
      lead_labels: {
        count: c.lead_labels,
        meta: () => ({ updated: this.anchor - HISTORY }),
        build: (index) => ({ ...(examples['/v1/leadLabels']!.data as Json[])[(index - 1) % 3] }),
      },
      lead_sources: {
        count: c.lead_sources,
        meta: () => ({ updated: this.anchor - HISTORY }),
        build: (index) => ({ ...(examples['/v1/leadSources']!.data as Json[])[(index - 1) % 10] }),
      },
      notes: simple('notes', c.notes, (id, t) => {
        const r = this.rng('notes', id);
        const user = userId('notes', id);
        const deal = r.chance(0.6) ? r.int(1, c.deals) : null;
        const org = r.chance(0.5) ? r.int(1, c.organizations) : null;
        const person = r.chance(0.5) ? r.int(1, c.persons) : null;
        return {
          ...example('/v1/notes'),
          id,
          active_flag: true,
          add_time: v1Time(t.added),
          update_time: v1Time(t.updated),
          content: `<p>${r.pick(['Called', 'Met', 'Emailed'])} about ${r.pick(DEAL_WORDS)}</p>`,
          deal: deal ? { title: `Deal ${deal}` } : null,
          deal_id: deal,
          lead_id: null,
          org_id: org,
          organization: org ? { name: `Organization ${org}` } : null,
          person_id: person,
          person: person ? { name: `Person ${person}` } : null,
          project_id: null,
          project: null,
          user_id: user,
          last_update_user_id: user,
          user: { email: `user${user}@example.com`, icon_url: null, is_you: user === 1, name: `User ${user}` },
          pinned_to_lead_flag: false,
          pinned_to_deal_flag: deal !== null && r.chance(0.2),
          pinned_to_organization_flag: false,
          pinned_to_person_flag: false,
          pinned_to_project_flag: false,
          ...this.v1CustomFields('note', id),
        };
      }),
      files: simple('files', c.files, (id, t) => {
        const r = this.rng('files', id);
        const kind = r.pick(['img', 'pdf', 'doc', 'xls']);
        return {
          ...example('/v1/files'),
          id,
          user_id: userId('files', id),
          deal_id: r.chance(0.5) ? r.int(1, c.deals) : null,
          person_id: r.chance(0.4) ? r.int(1, c.persons) : null,
          org_id: r.chance(0.4) ? r.int(1, c.organizations) : null,
          product_id: null,
          activity_id: null,
          lead_id: null,
          project_id: null,
          log_id: null,
          add_time: v1Time(t.added),
          update_time: v1Time(t.updated),
          file_name: `file_${id}.${kind === 'img' ? 'png' : kind}`,
          file_type: kind,
          file_size: r.int(1_000, 9_000_000),
          active_flag: true,
          inline_flag: false,
          remote_location: 's3',
          remote_id: null,
          cid: '',
          s3_bucket: '',
          mail_message_id: '',
          mail_template_id: '',
          deal_name: '',
          person_name: '',
          lead_name: '',
          project_name: '',
          org_name: '',
          product_name: '',
          url: `https://acme.pipedrive.com/v1/files/${id}/download`,
          name: `Document ${id}`,
          description: '',
        };
      }),
      email_threads: {
        count: c.email_threads,
        meta: (id) => ({ updated: this.lifetime('email_threads', id).updated, facet: this.folderBits(id) }),
        facet: (thread) =>
          MAIL_FOLDERS.reduce(
            (bits, folder, i) => bits | ((thread.folders as string[]).includes(folder) ? 1 << i : 0),
            0,
          ),
        build: (id, updated) => {
          const r = this.rng('email_threads', id);
          const { added } = this.lifetime('email_threads', id);
          const bits = this.folderBits(id);
          const party: Json = {
            ...(example('/v1/mailbox/mailThreads').parties as { to: Json[] }).to[0]!,
            id: 2 * id,
            email_address: `contact${id}@example.com`,
            linked_person_id: r.int(1, c.persons),
            message_time: updated,
          };
          return {
            ...example('/v1/mailbox/mailThreads'),
            id,
            user_id: 1,
            account_id: 'sim-mail-account',
            subject: `Re: ${r.pick(DEAL_WORDS)} ${id}`,
            snippet: 'Thanks, see you next week',
            parties: { to: [party], from: [{ ...party, id: 2 * id + 1 }] },
            folders: MAIL_FOLDERS.filter((_, i) => bits & (1 << i)),
            message_count: this.messagesPerThread(id),
            read_flag: r.int(0, 1),
            last_message_timestamp: mailTime(updated),
            first_message_timestamp: mailTime(added),
            last_message_received_timestamp: mailTime(updated),
            add_time: mailTime(added),
            update_time: mailTime(updated),
            deal_id: r.chance(0.3) ? r.int(1, c.deals) : null,
          };
        },
      },
      email_messages: {
        count: this.messageOffsets[c.email_threads + 1]! - 1,
        meta: (index) => ({ updated: this.messageTime(index) }),
        build: (index, updated) => {
          const thread = this.threadOf(index);
          const r = this.rng('email_messages', index);
          const template = example('/v1/mailbox/mailThreads/{id}/mailMessages');
          return {
            ...template,
            id: index,
            mail_thread_id: thread,
            user_id: 1,
            account_id: 'sim-mail-account',
            subject: `Re: thread ${thread}`,
            snippet: r.pick(['Sounds good', 'Attached the offer', 'Can we meet on Monday?']),
            from: [{ ...(template.from as Json[])[0]!, email_address: `contact${thread}@example.com` }],
            message_time: mailTime(updated),
            add_time: mailTime(updated),
            update_time: mailTime(updated),
            read_flag: r.int(0, 1),
          };
        },
      },
    };
  }

  /** A message was sent at most a few hours before its thread's last update. */
  private messageTime(message: number): number {
    const thread = this.threadOf(message);
    const threadTime = this.lifetime('email_threads', thread).updated;
    const position = this.messageOffsets[thread + 1]! - 1 - message;
    return toSecond(threadTime - position * (1 + (hash(this.seed, 'msg-gap', message) % 6)) * 3600 * SECOND);
  }
}
