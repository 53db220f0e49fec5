export { DataSubject, defineDataSubject } from './data-subject.js';
export { PersonalData, definePersonalData, defineCategory } from './personal-data.js';
export { Redact, defineRedact } from './redact.js';
export { NotExported, defineNotExported } from './not-exported.js';
export { DataCategoryProvider, type DataCategoryProviderOptions } from './data-category-provider.js';
export { NotPersonal, defineNotPersonal } from './not-personal.js';
