import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { Allow, Ctx, type ID, PermissionDefinition, type RequestContext } from '@vendure/core';
import type { PrivacyRequest } from 'privacy-engine';
import gql from 'graphql-tag';
import { PrivacyService } from './privacy.service';

export const managePersonalData = new PermissionDefinition({
  name: 'ManagePersonalData',
  description: "Export, anonymize, delete, restore and purge a customer's personal data",
});

export const adminApiSchema = gql`
  type PrivacyReviewItem {
    item: String!
    reason: String!
  }
  # Request ids are UUIDs: String, not ID, which Vendure decodes as its own entity ids.
  type PrivacyRequest {
    id: String!
    type: String!
    status: String!
    subjectId: String!
    createdAt: DateTime!
    finishedAt: DateTime
    dueAt: DateTime!
    warnings: [String!]!
    review: [PrivacyReviewItem!]!
    error: String
    "The request's outcome (export artifact, erasure receipt, restore or purge counts) as JSON: ids and counts, no personal data."
    outcome: JSON
  }
  extend type Query {
    privacyRequest(id: String!): PrivacyRequest
    "The resolved data map: which Vendure entities hold a customer's data and what erasure does to them."
    privacyDataMap: JSON!
  }
  extend type Mutation {
    exportCustomerData(customerId: ID!): PrivacyRequest!
    anonymizeCustomerData(customerId: ID!): PrivacyRequest!
    deleteCustomerData(customerId: ID!): PrivacyRequest!
    restoreCustomerData(requestId: String!): PrivacyRequest!
    "Destroys the recovery data of an erasure for good. force: before its recovery window has closed."
    purgeCustomerData(requestId: String!, force: Boolean): PrivacyRequest!
  }
`;

const toGraphql = (request: PrivacyRequest) => ({
  id: request.id,
  type: request.type,
  status: request.status,
  subjectId: String(request.subject.id),
  createdAt: request.createdAt,
  finishedAt: request.finishedAt ?? null,
  dueAt: request.dueAt,
  warnings: request.warnings,
  review: request.review,
  error: request.error ? `${request.error.code}: ${request.error.message}` : null,
  outcome: request.outcome ?? null,
});

/** The Admin API of the plugin: every call is an engine request, run by the worker. */
@Resolver()
export class PrivacyAdminResolver {
  constructor(private readonly privacy: PrivacyService) {}

  @Query()
  @Allow(managePersonalData.Permission)
  async privacyRequest(@Ctx() ctx: RequestContext, @Args() args: { id: string }) {
    const { engine } = this.privacy;
    return toGraphql(await engine.getRequest(String(args.id), this.privacy.actorOf(ctx)));
  }

  @Query()
  @Allow(managePersonalData.Permission)
  privacyDataMap() {
    return this.privacy.engine.dataMap();
  }

  @Mutation()
  @Allow(managePersonalData.Permission)
  async exportCustomerData(@Ctx() ctx: RequestContext, @Args() args: { customerId: ID }) {
    return toGraphql(await this.privacy.engine.export({ subjectId: String(args.customerId), tenantId: this.privacy.tenantOf(ctx), actor: this.privacy.actorOf(ctx) }));
  }

  @Mutation()
  @Allow(managePersonalData.Permission)
  async anonymizeCustomerData(@Ctx() ctx: RequestContext, @Args() args: { customerId: ID }) {
    return toGraphql(await this.privacy.engine.anonymize({ subjectId: String(args.customerId), tenantId: this.privacy.tenantOf(ctx), actor: this.privacy.actorOf(ctx) }));
  }

  @Mutation()
  @Allow(managePersonalData.Permission)
  async deleteCustomerData(@Ctx() ctx: RequestContext, @Args() args: { customerId: ID }) {
    return toGraphql(await this.privacy.engine.delete({ subjectId: String(args.customerId), tenantId: this.privacy.tenantOf(ctx), actor: this.privacy.actorOf(ctx) }));
  }

  @Mutation()
  @Allow(managePersonalData.Permission)
  async restoreCustomerData(@Ctx() ctx: RequestContext, @Args() args: { requestId: string }) {
    return toGraphql(await this.privacy.engine.restore({ requestId: String(args.requestId), actor: this.privacy.actorOf(ctx) }));
  }

  @Mutation()
  @Allow(managePersonalData.Permission)
  async purgeCustomerData(@Ctx() ctx: RequestContext, @Args() args: { requestId: string; force?: boolean | null }) {
    return toGraphql(
      await this.privacy.engine.purge({ requestId: String(args.requestId), actor: this.privacy.actorOf(ctx), force: args.force ?? false }),
    );
  }
}
