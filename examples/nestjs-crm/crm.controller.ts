import { Body, Controller, Get, Header, HttpCode, Inject, Param, ParseIntPipe, Post, Req, Res, UnauthorizedException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Request as ExpressRequest, Response } from 'express';
import type { Repository } from 'typeorm';
import { type Actor, type PrivacyRequest } from '../../src/index.js';
import { PrivacyEngine } from '../../src/http/nestjs.js';
import { Contact } from '../express-crm/entities.js';
import { STAFF, type createSessions } from '../express-crm/session.js';

type Request = ExpressRequest & { user?: Actor };

/** The signed login cookie of the Express example (`createSessions(secret)`). */
export const SESSIONS = Symbol('SESSIONS');

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The CRM's own routes. The privacy endpoints and dashboard are PrivacyModule's, under /privacy. */
@Controller()
export class CrmController {
  // Injected by type: the engine that PrivacyModule provides and starts.
  constructor(
    private readonly privacy: PrivacyEngine,
    @InjectRepository(Contact) private readonly contacts: Repository<Contact>,
    @Inject(SESSIONS) private readonly sessions: ReturnType<typeof createSessions>,
  ) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
  home(@Req() req: Request): string {
    const who = req.user ? `<p>Signed in as <strong>${escape(req.user.id)}</strong> (${escape(req.user.tenantId ?? '')}). <a href="/privacy/dashboard">Privacy dashboard</a> · <a href="/contacts">Contacts (JSON)</a></p><form method="post" action="/logout"><button>Sign out</button></form>` : '';
    const buttons = STAFF.map((u) => `<button name="user" value="${u.id}">${escape(u.name)} — ${u.organizationId}${u.roles.includes('admin') ? ', admin' : ''}</button>`).join('<br>');
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Example CRM (NestJS)</title></head><body><h1>Example CRM (NestJS)</h1>${who}<form method="post" action="/login"><p>Sign in as:</p>${buttons}</form></body></html>`;
  }

  @Post('login')
  @HttpCode(303)
  login(@Req() req: Request, @Body() body: { user?: string }, @Res({ passthrough: true }) res: Response): void {
    const user = STAFF.find((u) => u.id === body?.user);
    if (!user) throw new UnauthorizedException('Unknown user');
    this.sessions.write(res, { kind: 'staff', userId: user.id }, req.secure);
    res.setHeader('Location', '/privacy/dashboard');
  }

  @Post('logout')
  @HttpCode(303)
  logout(@Res({ passthrough: true }) res: Response): void {
    this.sessions.clear(res);
    res.setHeader('Location', '/');
  }

  /** The signed-in admin's contacts. */
  @Get('contacts')
  async list(@Req() req: Request): Promise<Array<Pick<Contact, 'id' | 'firstName' | 'lastName' | 'email'>>> {
    const actor = this.actorOf(req);
    const rows = await this.contacts.find({ where: { organizationId: actor.tenantId }, order: { id: 'ASC' } });
    return rows.map(({ id, firstName, lastName, email }) => ({ id, firstName, lastName, email }));
  }

  /** A contact's privacy requests, through the injected engine (which applies the actor's tenant and role). */
  @Get('contacts/:id/privacy-requests')
  async requests(@Req() req: Request, @Param('id', ParseIntPipe) id: number): Promise<PrivacyRequest[]> {
    return this.privacy.listRequests({ subjectId: id, actor: this.actorOf(req) });
  }

  private actorOf(req: Request): Actor {
    if (!req.user) throw new UnauthorizedException('Sign in first');
    return req.user;
  }
}
