// Deterministic randomness: every record is a pure function of (seed, entity, id), so the same seed always yields
// the same account, and a record can be generated on demand without storing the dataset.

/** 32-bit FNV-1a over the arguments. */
export function hash(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const text = String(part);
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0x2c;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small, fast PRNG with a 32-bit state. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }
}

export const FIRST_NAMES = [
  'Ada',
  'Bruno',
  'Chen',
  'Dana',
  'Emeka',
  'Fatima',
  'Goran',
  'Hana',
  'Ivo',
  'Julia',
  'Kwame',
  'Lena',
  'Mateo',
  'Nina',
  'Omar',
  'Priya',
  'Quinn',
  'Rosa',
  'Sven',
  'Tara',
  'Uma',
  'Viktor',
  'Wen',
  'Ximena',
  'Yusuf',
  'Zoe',
];
export const LAST_NAMES = [
  'Andersen',
  'Baptiste',
  'Costa',
  'Dubois',
  'Eriksson',
  'Fischer',
  'García',
  'Horvat',
  'Ivanova',
  'Jensen',
  'Kowalski',
  'Lindqvist',
  'Müller',
  'Novak',
  'Okafor',
  'Petrov',
  'Rossi',
  'Silva',
  'Tamm',
  'Urban',
  'Virtanen',
  'Weber',
  'Yilmaz',
  'Zhou',
];
export const COMPANY_WORDS = [
  'Acme',
  'Northwind',
  'Globex',
  'Initech',
  'Umbrella',
  'Stark',
  'Wayne',
  'Tyrell',
  'Cyberdyne',
  'Hooli',
  'Vandelay',
  'Soylent',
  'Massive',
  'Wonka',
  'Aperture',
  'Oscorp',
];
export const COMPANY_SUFFIXES = ['Ltd', 'GmbH', 'Inc', 'AS', 'OÜ', 'SA', 'BV', 'Oy', 'AB', 'LLC'];
export const CITIES = [
  ['Tallinn', 'EE', 'Harju maakond'],
  ['Berlin', 'DE', 'Berlin'],
  ['Lisbon', 'PT', 'Lisboa'],
  ['Austin', 'US', 'TX'],
  ['Dublin', 'IE', 'Leinster'],
  ['Prague', 'CZ', 'Praha'],
] as const;
export const DEAL_WORDS = [
  'renewal',
  'expansion',
  'pilot',
  'license',
  'onboarding',
  'upgrade',
  'consulting',
  'support plan',
];
