import { Controller, Get, Param, Res } from '@nestjs/common';
import { Allow, Ctx, type RequestContext } from '@vendure/core';
import type { Response } from 'express';
import { managePersonalData } from './api';
import { PrivacyService } from './privacy.service';

/**
 * GET /privacy/exports/:requestId streams a finished export's ZIP (decrypted) to an administrator with the
 * ManagePersonalData permission. Vendure authenticates REST controllers as it does its GraphQL APIs.
 */
@Controller('privacy')
export class PrivacyDownloadController {
  constructor(private readonly privacy: PrivacyService) {}

  @Get('exports/:requestId')
  @Allow(managePersonalData.Permission)
  async download(@Ctx() ctx: RequestContext, @Param('requestId') requestId: string, @Res() res: Response): Promise<void> {
    const archive = await this.privacy.engine.download({ requestId, actor: this.privacy.actorOf(ctx) });
    res.setHeader('Content-Type', archive.contentType);
    res.setHeader('Content-Length', String(archive.size));
    res.setHeader('Content-Disposition', `attachment; filename="${archive.fileName}"`);
    archive.stream.on('error', (error) => res.destroy(error));
    archive.stream.pipe(res);
  }
}
