import { Injectable, Module } from '@nestjs/common';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { SubjectRef } from '../../src/http/index.js';
import { Contact } from '../express-crm/entities.js';

/** Names a subject for the dashboard's confirmations ("… for Astrid Lindqvist"), inside its own tenant only. */
@Injectable()
export class ContactNames {
  constructor(@InjectRepository(Contact) private readonly contacts: Repository<Contact>) {}

  async describe(subject: SubjectRef): Promise<{ name: string } | undefined> {
    const row = await this.contacts.findOne({ where: { id: Number(subject.id), organizationId: subject.tenantId ?? undefined }, withDeleted: true });
    if (!row) return undefined;
    // After an anonymize (or a purge of a deleted contact) the row holds pseudonyms: say so rather than show them as a name.
    if (row.email.endsWith('@redacted.invalid')) return { name: `Contact #${row.id} (${row.deletedAt ? 'erased' : 'anonymized'})` };
    return { name: `${row.firstName} ${row.lastName}${row.deletedAt ? ' (deleted)' : ''}` };
  }
}

@Module({ imports: [TypeOrmModule.forFeature([Contact])], providers: [ContactNames], exports: [ContactNames] })
export class ContactNamesModule {}
