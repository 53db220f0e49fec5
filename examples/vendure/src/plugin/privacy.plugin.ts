import { PluginCommonModule, type Type, VendurePlugin } from '@vendure/core';
import { adminApiSchema, managePersonalData, PrivacyAdminResolver } from './api';
import { PrivacyDownloadController } from './download.controller';
import { addKeysetIndexes, restrictCustomerHistoryDeletes } from './schema-modifiers';
import { PrivacyService } from './privacy.service';
import { PRIVACY_PLUGIN_OPTIONS, type PrivacyPluginOptions } from './types';

/**
 * Answers GDPR/CCPA data-subject requests for Vendure customers with privacy-engine: export, anonymize, delete,
 * restore and purge, as requests that Vendure's worker runs. Add `PrivacyPlugin.init({ secret, storageDirectory })`
 * to `plugins` in your VendureConfig.
 */
@VendurePlugin({
  imports: [PluginCommonModule],
  providers: [PrivacyService, { provide: PRIVACY_PLUGIN_OPTIONS, useFactory: () => PrivacyPlugin.options }],
  controllers: [PrivacyDownloadController],
  adminApiExtensions: { schema: adminApiSchema, resolvers: [PrivacyAdminResolver] },
  configuration: (config) => {
    config.authOptions.customPermissions.push(managePersonalData);
    config.entityOptions.metadataModifiers = [...(config.entityOptions.metadataModifiers ?? []), addKeysetIndexes, restrictCustomerHistoryDeletes];
    return config;
  },
  compatibility: '^3.0.0',
})
export class PrivacyPlugin {
  static options: PrivacyPluginOptions;

  static init(options: PrivacyPluginOptions): Type<PrivacyPlugin> {
    PrivacyPlugin.options = options;
    return PrivacyPlugin;
  }
}
