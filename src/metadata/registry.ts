import type {
  CategoryDefinition,
  ExclusionDeclaration,
  NotPersonalDeclaration,
  PersonalDataDeclaration,
  ProviderRegistration,
  RedactDeclaration,
  SubjectDeclaration,
} from './declarations.js';

/**
 * One store of declarations per process, kept on globalThis so that two copies of the package
 * (ESM and CJS, or two versions in node_modules) see the same decorators.
 */
export interface DeclarationRegistry {
  subjects: SubjectDeclaration[];
  personalData: PersonalDataDeclaration[];
  redactions: RedactDeclaration[];
  exclusions: ExclusionDeclaration[];
  notPersonal: NotPersonalDeclaration[];
  categories: CategoryDefinition[];
  providers: ProviderRegistration[];
}

const KEY = Symbol.for('privacy-engine.registry.v1');

export function getRegistry(): DeclarationRegistry {
  const holder = globalThis as unknown as Record<symbol, DeclarationRegistry | undefined>;
  let registry = holder[KEY];
  if (!registry) {
    registry = { subjects: [], personalData: [], redactions: [], exclusions: [], notPersonal: [], categories: [], providers: [] };
    holder[KEY] = registry;
  }
  registry.exclusions ??= [];
  registry.notPersonal ??= []; // a registry made by an older copy of the package, sharing the same key
  return registry;
}
