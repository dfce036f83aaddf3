'use strict';
// A Nest HTTP app taking multipart uploads (multer, memory storage) as tests/upload.rs
// declares ours: `node upload.js <port>`, prints "ready <port>".
const { nest, decorateClass, decorateMethod, serveHttpApp } = require('./common');
const {
  Body, Controller, FileTypeValidator, Module, ParseFilePipe, Post, UploadedFile, UploadedFiles, UseInterceptors,
} = nest('@nestjs/common');
const { FileInterceptor, FilesInterceptor } = nest('@nestjs/platform-express');

const describe = (f) => ({
  fieldname: f.fieldname, originalname: f.originalname, encoding: f.encoding, mimetype: f.mimetype, size: f.size,
});

class UploadController {
  single(file, body) { return { ...describe(file), body }; }
  optional(file) { return { file: file ? file.originalname : null }; }
  many(files) { return (files || []).map(describe); }
}
UploadedFile(new ParseFilePipe({ validators: [new FileTypeValidator({ fileType: 'image/gif' })] }))(
  UploadController.prototype, 'single', 0);
Body()(UploadController.prototype, 'single', 1);
UploadedFile()(UploadController.prototype, 'optional', 0);
UploadedFiles()(UploadController.prototype, 'many', 0);
decorateMethod(UploadController, 'single', Post('single'), UseInterceptors(FileInterceptor('file', { limits: { fileSize: 1000 } })));
decorateMethod(UploadController, 'optional', Post('optional'), UseInterceptors(FileInterceptor('file')));
decorateMethod(UploadController, 'many', Post('many'), UseInterceptors(FilesInterceptor('photos', 2)));
decorateClass(UploadController, Controller('upload'));

class AppModule {}
decorateClass(AppModule, Module({ controllers: [UploadController] }));

serveHttpApp(AppModule, Number(process.argv[2]));
