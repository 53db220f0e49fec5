import { Column, Entity, JoinColumn, ManyToOne, OneToOne, PrimaryGeneratedColumn } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { DataSubject, MetadataError, NotPersonal, PersonalData, PrivacyEngine, ValidationError } from '../src/index.js';
import { looksLikeCredentialName } from '../src/metadata/credentials.js';
import { describeEachDatabase } from './support/databases.js';
import { createTestLogger } from './support/test-logger.js';

const SECRET = 'schema-declarations-secret-schema-decl-01';

// Each case has its own classes: declarations are process-wide, the builder only looks at the DataSource's entities.
@Entity('sd_login1')
@PersonalData({ category: 'login', link: 'customer' })
class SdLogin1 {
  @PrimaryGeneratedColumn() id!: number;
}
@Entity('sd_customer1')
@DataSubject()
class SdCustomer1 {
  @PrimaryGeneratedColumn() id!: number;
  @OneToOne(() => SdLogin1) @JoinColumn() login!: SdLogin1;
}

@Entity('sd_profile2')
class SdProfile2 {
  @PrimaryGeneratedColumn() id!: number;
}
@Entity('sd_login2')
class SdLogin2 {
  @PrimaryGeneratedColumn() id!: number;
}
@Entity('sd_session2')
@PersonalData({ category: 'sessions', link: 'login.SdCustomer2.profile' })
class SdSession2 {
  @PrimaryGeneratedColumn() id!: number;
  @ManyToOne(() => SdLogin2) login!: SdLogin2;
}
@Entity('sd_customer2')
@DataSubject()
class SdCustomer2 {
  @PrimaryGeneratedColumn() id!: number;
  @OneToOne(() => SdLogin2) @JoinColumn() login!: SdLogin2;
  @OneToOne(() => SdProfile2) @JoinColumn() profile!: SdProfile2;
}

@Entity('sd_member3')
@DataSubject({ exclude: ['resetToken'], include: ['resetToken'] })
class SdMember3 {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64, nullable: true }) resetToken!: string | null;
}

@Entity('sd_member4')
@DataSubject()
class SdMember4 {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) @NotPersonal() tokenizerModel!: string;
  @Column({ type: 'varchar', length: 64 }) apiKey!: string;
  @Column({ type: 'int', default: 0 }) tokenCount!: number;
  @Column({ type: 'varchar', length: 64, nullable: true }) secretary!: string | null;
  @Column({ type: 'varchar', length: 64, nullable: true, select: false }) hiddenNote!: string | null;
}

@Entity('sd_org5')
class SdOrg5 {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) slug!: string;
}
@Entity('sd_person5')
@DataSubject()
class SdPerson5 {
  @PrimaryGeneratedColumn() id!: number;
  @ManyToOne(() => SdOrg5) org!: SdOrg5;
}

describe('credential names', () => {
  it('are recognised by whole words in camel, snake and kebab case, and not inside other words', () => {
    for (const name of ['password', 'passwordHash', 'password_hash', 'PASSWORD-HASH', 'verificationToken', 'refresh_tokens', 'apiKey', 'API_KEY', 'clientSecret', 'privateKey', 'totpSeed', 'recoveryCodes', 'salt', 'apikey']) {
      expect(looksLikeCredentialName(name), name).toBe(true);
    }
    for (const name of ['email', 'secretary', 'tokenizer', 'passage', 'keyboard', 'apiVersion', 'saltwater', 'identifier', 'hash']) {
      expect(looksLikeCredentialName(name), name).toBe(false);
    }
  });
});

describeEachDatabase('declarations for real-world schemas', (db) => {
  async function start(entities: Function[], subject: Function, extra: Record<string, unknown> = {}) {
    const dataSource = await db.createDataSource(entities);
    const engine = new PrivacyEngine({ dataSource, subject, secret: SECRET, logger: createTestLogger(), ...extra });
    await engine.start();
    return engine;
  }

  it("a relation declared only on the subject: the error says how to walk it from the subject's side", async () => {
    const error = await start([SdCustomer1, SdLogin1], SdCustomer1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as MetadataError).message).toBe(
      "SdLogin1: link 'customer' names unknown relation 'customer' on SdLogin1 (its relations: none); SdCustomer1.login points at SdLogin1: walk it from the subject's side with 'SdCustomer1.login'",
    );
  });

  it("a subject-side part that arrives elsewhere than the row's part is a MetadataError naming both ends", async () => {
    const error = await start([SdCustomer2, SdLogin2, SdProfile2, SdSession2], SdCustomer2).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as MetadataError).message).toBe("SdSession2: link 'login.SdCustomer2.profile' walks from the subject to SdProfile2, not to SdLogin2, where 'login' arrives");
    expect(error).toMatchObject({ entity: 'SdSession2', field: 'login.SdCustomer2.profile' });
  });

  it('a column both excluded and included is a MetadataError', async () => {
    const error = await start([SdMember3], SdMember3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as MetadataError).message).toBe('SdMember3.resetToken: the column is both excluded from and included in exports; keep one');
  });

  it('@NotPersonal takes a credential-looking column out of the credentials; numbers and other words are never ones; select: false hides', async () => {
    const engine = await start([SdMember4], SdMember4);
    const fields = engine.dataMap().entities[0].fields;
    const field = (name: string) => fields.find((f) => f.name === name);
    expect(field('tokenizerModel')).toMatchObject({ exported: true, credential: false, redact: null });
    // NOT NULL text: a random value on erasure.
    expect(field('apiKey')).toMatchObject({ exported: false, credential: true, redact: 'custom' });
    expect(field('tokenCount')).toMatchObject({ exported: true, credential: false, redact: null });
    expect(field('secretary')).toMatchObject({ exported: true, credential: false });
    expect(field('hiddenNote')).toMatchObject({ exported: false, credential: false, redact: null });
  });

  it('a tenant path through a many-to-one: the data map shows it; unknown relations and columns are MetadataErrors', async () => {
    const engine = await start([SdPerson5, SdOrg5], SdPerson5, { tenantColumn: 'org.slug' });
    expect(engine.dataMap().subject.tenant).toEqual({ kind: 'relation', path: 'org.slug', through: ['SdOrg5'] });
    await expect(start([SdPerson5, SdOrg5], SdPerson5, { tenantColumn: 'orgs.slug' })).rejects.toThrow(
      "SdPerson5: tenantColumn 'orgs.slug' names unknown relation 'orgs' on SdPerson5 (its relations: org)",
    );
    await expect(start([SdPerson5, SdOrg5], SdPerson5, { tenantColumn: 'org.name' })).rejects.toThrow("SdPerson5: tenantColumn 'org.name' names 'name', which is not a column of SdOrg5");
  });

  it('tenantColumn and tenantOf together are a ValidationError', async () => {
    const dataSource = await db.createDataSource([SdPerson5, SdOrg5]);
    expect(() => new PrivacyEngine({ dataSource, subject: SdPerson5, secret: SECRET, tenantColumn: 'org.slug', tenantOf: () => 'x' })).toThrow(ValidationError);
  });
});
