// Luxon, set up once. Its objects carry a locale, and without a default one luxon asks Intl for the system's, which
// costs about 40 ms of ICU start-up in every process (spec and check included); this connector formats no date by
// locale, so English it is.
import { Settings } from 'luxon';

Settings.defaultLocale = 'en-US';

export { DateTime, Duration } from 'luxon';
