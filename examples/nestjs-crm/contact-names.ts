import { Injectable, Module } from '@nestjs/common';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { SubjectRef } from '../../src/http/index.js';
import { Contact } from './crm.js';

/** Names a subject for the dashboard's confirmations ("… for Astrid Lindqvist"), inside its own tenant only. */
@Injectable()
export class ContactNames {
  constructor(@InjectRepository(Contact) private readonly contacts: Repository<Contact>) {}

  async describe(subject: SubjectRef): Promise<{ name: string } | undefined> {
    const contact = await this.contacts.findOne({ where: { id: Number(subject.id), organizationId: subject.tenantId ?? undefined }, withDeleted: true });
    return contact ? { name: `${contact.firstName} ${contact.lastName}` } : undefined;
  }
}

@Module({ imports: [TypeOrmModule.forFeature([Contact])], providers: [ContactNames], exports: [ContactNames] })
export class ContactNamesModule {}
